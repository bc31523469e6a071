# The two relion_display windows of xtreme-d/relion-tutorial-simplified (RELION 3.0 tutorial beta-gal, run by the
# author; no licence stated, so the images stay outside the repository): every class tile cut out, and the author's
# selection read from the red frames relion_display draws around selected classes.
#   job009: images/relion_2d_classes.png  (Class2D/job009/run_it025_model.star), 5 x 10 tiles, 64 px classes shown 4x
#   job023: images/relion_good_classes.png (Class2D/job023/run_it025_model.star), 7 x 15 grid, 100 tiles, shown 2x
# Geometry (measured on the screenshots, 2648 x 1400 and 2052 x 1034 px): every tile has a 2-px frame line (black, or
# red when selected) whose top-left pixel is at (79 + pitch * row, 5 + pitch * col); the frame spans `span` px, its
# lines are at offsets 0-1 and span-2..span-1, the inside is offsets 2..span-3. job009: pitch 264, span 258, tile cut
# 5 px inside the frame (244 px); job023: pitch 136, span 130, tile cut 4 px inside (118 px).
# Red fraction: the share of the frame-line pixels (both 2-px lines on all four sides, the 2 x 2 rounded corners
# left out) that are pure red (R > 200, G < 60, B < 60): 1.000 for the framed tiles, 0.000 for the others;
# label = red fraction > 0.5. Every frame must be > 99 % pure black or red (a few grey pixels cross some lines).
# Output (in ../real_extra/xtremed_relion3tut_class2d_select/): job009_classes50_display8bit.mrcs,
# job023_classes100_display8bit.mrcs (grey = RGB mean, float32, rows flipped to MRC order), job0NN_labels.csv and
# preview_job0NN.png; the labels are checked against benchmarks/real_sets/xtremed_relion3tut_job0NN_select_labels.csv.
# Deterministic: the stacks' data are identical between runs (only mrcfile's header time label changes).
import csv, io, os, sys
import numpy as np, mrcfile
from PIL import Image

from fetched_file import copy_untouched

REPO = '/work/.mirror/xtreme-d+relion-tutorial-simplified/repo'
C_IMAGES = '14798e1817c7dbe6deb0c5a7a9ab2ff4c4365599'  # the images are unchanged up to 75bfe5a (the docs' commit)
DST = '/work/real_extra/xtremed_relion3tut_class2d_select'
LABELS_IN_REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')

JOBS = {  # job: file, git blob, rows, cols, n classes, pitch, span, inset, display pixel (A)
    'job009': ('relion_2d_classes.png', '17865396791ba33a09e90520f16f99140297194d', 5, 10, 50, 264, 258, 5, 3.54 / 4),
    'job023': ('relion_good_classes.png', '890b147a9dd236843429be2da392b44f372e0213', 7, 15, 100, 136, 130, 4,
               3.54 / 2),
}
Y0, X0 = 79, 5


def original(name, blob):
    return copy_untouched(REPO, C_IMAGES, f'images/{name}', os.path.join(DST, 'original', name), blob)


def frame_ring(span):
    ring = np.zeros((span, span), bool)
    ring[:2] = ring[-2:] = True
    ring[:, :2] = ring[:, -2:] = True
    for ys in (slice(0, 2), slice(-2, None)):  # the corners are rounded (anti-aliased): left out
        for xs in (slice(0, 2), slice(-2, None)):
            ring[ys, xs] = False
    return ring


def cut(job):
    name, blob, nrows, ncols, n, pitch, span, inset, apix = JOBS[job]
    rgb = np.asarray(Image.open(original(name, blob)).convert('RGB')).astype(np.int32)
    ring = frame_ring(span)
    lo, hi = 2 + inset, span - 2 - inset
    tiles, fractions = [], []
    for k in range(nrows * ncols):
        r, c = divmod(k, ncols)
        y, x = Y0 + pitch * r, X0 + pitch * c
        frame = rgb[y:y + span, x:x + span][ring]
        red = (frame[:, 0] > 200) & (frame[:, 1] < 60) & (frame[:, 2] < 60)
        black = frame.max(-1) < 10
        if k >= n:  # the grid's empty cells (job023's last row) have no frame
            assert not (red | black).mean() > 0.5, (job, k + 1)
            continue
        assert (red | black).mean() > 0.99, (job, k + 1, (red | black).mean())
        fractions.append(red.mean())
        tiles.append(rgb[y + lo:y + hi, x + lo:x + hi].mean(-1))
    stack = np.stack(tiles).astype(np.float32)
    fractions = np.array(fractions)
    labels = (fractions > 0.5).astype(int)
    print(job, stack.shape, 'kept tiles', [int(i) + 1 for i in np.flatnonzero(labels)],
          'red fractions seen', sorted({float(f'{f:.3f}') for f in fractions}))
    with mrcfile.new(os.path.join(DST, f'{job}_classes{n}_display8bit.mrcs'), overwrite=True) as m:
        m.set_data(np.ascontiguousarray(stack[:, ::-1])); m.set_image_stack(); m.voxel_size = apix
    rows = [['class', 'label', 'red_frame_fraction']] + [[i + 1, labels[i], f'{fractions[i]:.3f}'] for i in range(n)]
    text = io.StringIO(); csv.writer(text, lineterminator='\n').writerows(rows)
    open(os.path.join(DST, f'{job}_labels.csv'), 'w').write(text.getvalue())
    committed = open(os.path.join(LABELS_IN_REPO, f'xtremed_relion3tut_{job}_select_labels.csv')).read()
    assert text.getvalue() == committed, f'{job}: labels differ from the committed file'
    # preview: tiles at their display size in the window's grid, unlabelled
    prev = np.full((nrows * (hi - lo + 4), ncols * (hi - lo + 4)), 255, np.uint8)
    for i, t in enumerate(stack):
        r, c = divmod(i, ncols)
        prev[r * (hi - lo + 4):r * (hi - lo + 4) + hi - lo, c * (hi - lo + 4):c * (hi - lo + 4) + hi - lo] = t
    Image.fromarray(prev).save(os.path.join(DST, f'preview_{job}.png'))
    return labels


if __name__ == '__main__':
    for job in sys.argv[1:] or JOBS:
        cut(job)
    print('labels identical to the committed files')
