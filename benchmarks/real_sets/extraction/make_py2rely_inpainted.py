# Same 10 tiles as make_py2rely.py, with the GUI overlays inpainted (skimage inpaint_biharmonic) so that the
# captions ("Class n | ptcls | res", check marks) cannot leak the labels: the bounding box (+3 px) of the
# near-white (> 230) pixels in the bottom 60 display rows of each tile, and of tile 1's "Classes (fast)" label in
# its top 30 rows. Output: webgui_classes1-10_inpainted_fig8bit.mrcs (+ preview_tiles_inpainted.png).
import numpy as np, mrcfile
from PIL import Image
from skimage.restoration import inpaint_biharmonic
D = '/work/real_extra/py2rely_slab_class2d_webgui'
g = np.asarray(Image.open(f'{D}/original/WebGUI.png').convert('L')).astype(np.float32)
xs = [27, 389, 750, 1111, 1473]; ys = [489, 851]; S = 338


def box_mask(tile, rows):
    mask = np.zeros(tile.shape, bool)
    sub = tile[rows] > 230
    if sub.any():
        yy, xx = np.nonzero(sub)
        y0 = rows.start + yy.min()
        mask[max(y0 - 3, 0):rows.start + yy.max() + 4, max(xx.min() - 3, 0):xx.max() + 4] = True
    return mask


tiles = []
for y0 in ys:
    for x0 in xs:
        t = g[y0 + 6:y0 + 6 + S, x0 + 4:x0 + 4 + S]
        mask = box_mask(t, slice(S - 60, S))
        if not tiles:
            mask |= box_mask(t, slice(0, 30))
        print(len(tiles) + 1, 'masked px', int(mask.sum()))
        tiles.append(inpaint_biharmonic(t / 255.0, mask) * 255.0)
st = np.stack([t[::-1] for t in tiles]).astype(np.float32)
with mrcfile.new(f'{D}/webgui_classes1-10_inpainted_fig8bit.mrcs', overwrite=True) as m:
    m.set_data(st); m.set_image_stack()
prev = np.concatenate([np.concatenate(tiles[r * 5:(r + 1) * 5], 1) for r in range(2)], 0)
Image.fromarray(np.clip(prev, 0, 255).astype(np.uint8)).save(f'{D}/preview_tiles_inpainted.png')
print(st.shape)
