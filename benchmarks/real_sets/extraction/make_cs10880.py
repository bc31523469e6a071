# A whole cryoSPARC 2D classification of EMPIAR-10880 (100 classes), shown as the figure attached to the first cell
# of cryoem-uoft/cryosparc-examples shift-2d-classes.ipynb (attachment image.png; no licence stated, so the figure
# stays outside the repository). The figure is a 10 x 10 gallery sorted by particle count (largest first), 2409 x
# 2409 px, tiles 235 x 235 px between white separators, each with green captions (particle count at the top,
# resolution and ECA at the bottom) and, in the first tile of every other row (tiles 1, 21, 41, 61, 81), a white
# 120 A scale bar (104 px) with rotated white text.
# Tiles: rows/columns found as the runs of rows/columns less than 90 % white (> 240); each tile cut to 234 x 234 px
# from its top-left pixel (the last row and column dropped). Grey = RGB mean.
# Inpainted (skimage.restoration.inpaint_biharmonic): every pixel with any colour (max - min channel > 0: the green
# captions and their anti-aliased edges), dilated 2 px; and, in tiles with pure-white (min channel > 200) pixels in
# the left 40 columns, the bounding box of those pixels grown by 3 px (the scale bar and its label).
# Output (in ../real_extra/cryosparc_examples_empiar10880_class2d_k100/): empiar10880_classes100_fig8bit.mrcs (as
# cut), empiar10880_classes100_inpainted_fig8bit.mrcs (what the loader reads), float32, rows flipped to MRC order,
# voxel 120/104 A; preview_inpainted.png. Deterministic (only mrcfile's header time label changes between runs).
import base64, io, json, os
import numpy as np, mrcfile
from PIL import Image
from scipy import ndimage
from skimage.restoration import inpaint_biharmonic

from fetched_file import copy_untouched

REPO = '/work/.mirror/cryoem-uoft+cryosparc-examples/repo'
COMMIT = '1b9bb6b7f6878f25648816b786d31ee6a54a6411'  # the notebook (blob b983e0e7) is unchanged since 583dae8
BLOB = 'b983e0e7f387e6368f9a042f6391adea914a2f72'
DST = '/work/real_extra/cryosparc_examples_empiar10880_class2d_k100'
NOTEBOOK = os.path.join(DST, 'original', 'shift-2d-classes.ipynb')
S = 234
APIX = 120 / 104


def runs(mask):
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def main():
    copy_untouched(REPO, COMMIT, 'shift-2d-classes.ipynb', NOTEBOOK, BLOB)
    png = base64.b64decode(json.load(open(NOTEBOOK))['cells'][0]['attachments']['image.png']['image/png'])
    open(os.path.join(DST, 'original', 'shift-2d-classes_cell0_image.png'), 'wb').write(png)  # the attachment as is
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert('RGB')).astype(np.int32)
    assert rgb.shape == (2409, 2409, 3), rgb.shape
    grey = rgb.mean(-1)
    white = grey > 240
    rows, cols = runs(white.mean(1) < 0.9), runs(white.mean(0) < 0.9)
    assert len(rows) == len(cols) == 10 and all(b - a == 235 for a, b in rows + cols), (rows, cols)
    raw, inpainted, preview = [], [], []
    for r0, _ in rows:
        for c0, _ in cols:
            tile = rgb[r0:r0 + S, c0:c0 + S]
            g = tile.mean(-1)
            mask = ndimage.binary_dilation(tile.max(-1) - tile.min(-1) > 0, iterations=2)
            ys, xs = np.nonzero(tile[:, :40].min(-1) > 200)
            if len(ys):
                mask[max(ys.min() - 3, 0):ys.max() + 4, max(xs.min() - 3, 0):xs.max() + 4] = True
            out = inpaint_biharmonic(g / 255.0, mask) * 255.0
            print(len(raw) + 1, 'masked px', int(mask.sum()), 'scale bar' if len(ys) else '')
            raw.append(g); inpainted.append(out)
    for name, tiles in (('empiar10880_classes100_fig8bit.mrcs', raw),
                        ('empiar10880_classes100_inpainted_fig8bit.mrcs', inpainted)):
        stack = np.ascontiguousarray(np.stack(tiles)[:, ::-1]).astype(np.float32)
        with mrcfile.new(os.path.join(DST, name), overwrite=True) as m:
            m.set_data(stack); m.set_image_stack(); m.voxel_size = APIX
        print(name, stack.shape)
    small = [np.asarray(Image.fromarray(np.clip(t, 0, 255).astype(np.uint8)).resize((117, 117), Image.BILINEAR))
             for t in inpainted]
    prev = np.concatenate([np.concatenate(small[r * 10:(r + 1) * 10], 1) for r in range(10)], 0)
    Image.fromarray(prev).save(os.path.join(DST, 'preview_inpainted.png'))


if __name__ == '__main__':
    main()
