# Cut the 10 fully visible class tiles from py2rely docs/assets/WebGUI.png (row-major, classes 1-10).
import numpy as np, mrcfile
from PIL import Image
D='/work/real_extra/py2rely_slab_class2d_webgui'
g=np.asarray(Image.open(f'{D}/original/WebGUI.png').convert('L')).astype(np.float32)
xs=[27,389,750,1111,1473]; ys=[489,851]; S=338
tiles=[]
for y0 in ys:
    for x0 in xs:
        tiles.append(g[y0+6:y0+6+S, x0+4:x0+4+S][::-1])  # flip to MRC orientation (origin bottom-left)
st=np.stack(tiles)
with mrcfile.new(f'{D}/webgui_classes1-10_fig8bit.mrcs', overwrite=True) as m:
    m.set_data(st); m.set_image_stack()
# preview
prev=np.concatenate([np.concatenate([t[::-1] for t in tiles[r*5:(r+1)*5]],1) for r in range(2)],0)
Image.fromarray(prev.astype(np.uint8)).save(f'{D}/preview_tiles.png')
print(st.shape)
