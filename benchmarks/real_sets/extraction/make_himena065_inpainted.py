# Same 13 tiles as make_himena065.py, with the GUI overlays inpainted instead of left in:
# green caption text (G - (R+B)/2 > 15, dilated 2 px), the white dotted zoom line across tile 3 and the
# white inset border in the top rows of tile 7 (pure white, min channel > 235, dilated 1 px); in tiles 7 and 8
# also the strip of the GUI inset above that border (every row down to the lowest row of the top 20 that is
# mostly white, plus 2 rows), whose coloured pixels and grey text are not caught by the rules above.
# Inpainting: skimage.restoration.inpaint_biharmonic. Output: job065_visible13_inpainted_fig8bit.mrcs (+ preview).
import numpy as np, mrcfile
from PIL import Image
from scipy import ndimage
from skimage.restoration import inpaint_biharmonic
D = '/work/real_extra/himena_relion_job065_gallery'
rgb = np.asarray(Image.open(f'{D}/original/01_job_window.png').convert('RGB')).astype(np.float32)
grey = np.asarray(Image.open(f'{D}/original/01_job_window.png').convert('L')).astype(np.float32)
xs = [50, 314, 578, 842, 1106]; ys = [517, 778, 1039]; S = 258
cells = [(0, 0), (0, 1), (0, 2)] + [(r, c) for r in (1, 2) for c in range(5)]
tiles, masks = [], []
for i, (r, c) in enumerate(cells):
    sl = (slice(ys[r] + 2, ys[r] + 2 + S), slice(xs[c] + 3, xs[c] + 3 + S))
    t, col = grey[sl], rgb[sl]
    green = ndimage.binary_dilation(col[..., 1] - (col[..., 0] + col[..., 2]) / 2 > 15, iterations=2)
    white = ndimage.binary_dilation(col.min(-1) > 235, iterations=1) if i in (2, 6) else np.zeros_like(green)
    mask = green | white
    if i in (6, 7):  # the inset strip across the top of tiles 7 and 8 (1-based)
        border = [y for y in range(20) if (col[y].min(-1) > 235).mean() > 0.5]
        if border:
            mask[: max(border) + 3] = True
    tiles.append(inpaint_biharmonic(t / 255.0, mask) * 255.0)
    masks.append(mask)
    print(i, 'masked px', int(mask.sum()))
st = np.stack([t[::-1] for t in tiles]).astype(np.float32)
with mrcfile.new(f'{D}/job065_visible13_inpainted_fig8bit.mrcs', overwrite=True) as m:
    m.set_data(st); m.set_image_stack()
row = lambda ts: np.concatenate(ts + [np.zeros_like(ts[0])] * (5 - len(ts)), 1)
prev = np.concatenate([row(tiles[:3]), row(tiles[3:8]), row(tiles[8:13])], 0)
Image.fromarray(np.clip(prev, 0, 255).astype(np.uint8)).save(f'{D}/preview_tiles_inpainted.png')
print(st.shape)
