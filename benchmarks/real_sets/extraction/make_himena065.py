# Cut the 13 visible class tiles from himena-relion docs/images/01_job_window.png (RELION Class2D job065 gallery).
import numpy as np, mrcfile
from PIL import Image
D='/work/real_extra/himena_relion_job065_gallery'
g=np.asarray(Image.open(f'{D}/original/01_job_window.png').convert('L')).astype(np.float32)
xs=[50,314,578,842,1106]; ys=[517,778,1039]; S=258
cells=[(0,0),(0,1),(0,2)]+[(r,c) for r in (1,2) for c in range(5)]
tiles=[g[ys[r]+2:ys[r]+2+S, xs[c]+3:xs[c]+3+S] for r,c in cells]
st=np.stack([t[::-1] for t in tiles])
with mrcfile.new(f'{D}/job065_visible13_fig8bit.mrcs', overwrite=True) as m:
    m.set_data(st); m.set_image_stack()
row=lambda ts: np.concatenate(ts+[np.zeros_like(ts[0])]*(5-len(ts)),1)
prev=np.concatenate([row(tiles[:3]),row(tiles[3:8]),row(tiles[8:13])],0)
Image.fromarray(prev.astype(np.uint8)).save(f'{D}/preview_tiles.png'); print(st.shape)
