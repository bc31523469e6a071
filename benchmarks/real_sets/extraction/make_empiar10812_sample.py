# 100 real RELION 2D class averages drawn at random from EMPIAR-10812 (the RELION class-ranker training set: 2D
# classification jobs of many specimens, each class put by the RELION developers in a category that RELION turns
# into a class score), as shown in five matplotlib figures of sstagg/Magellon (Apache-2.0) @ 153fb996, path
# Sandbox/khom_test_projects/CNNTraining/scored-images/scored_imgs_{0..4}.png (the same blobs sit at
# Sandbox/khom_test_projects/CNNTraining/scored_imgs_*.png from 312e8ac9; removed from the branch later). They were
# drawn by that folder's test1.py (display_scored_images): 100 classes picked at random from the 26,389 of its
# EMPIAR-10812 HDF5, each shown with plt.imshow (grey, min-max per tile) under the title
# "<true score> | <Magellon CNN's predicted score>", 20 tiles per figure in a 4 x 5 grid, sorted by
# |true - predicted|. The true score is RELION 4.0's class score (dataset.py calculate_class_scores):
# category 1 -> (0.75 + 0.25 w) * job_score, 5 -> (0.5 + 0.25 w) * js, 2 -> (0.25 + 0.25 w) * js,
# 3 or 4 -> 0.25 w * js, 0 or 6 (the worst: not selected) -> 0, with w = (best resolution / class resolution)^2.
#
# Labels (rule fixed before any model was scored on these tiles): 1 if the true score >= 0.5 (only categories 1 and 5
# reach it: the developers' best two tiers), 0 if it is 0.000 (the worst category: a class the developers rejected),
# -1 (left out) if 0 < score < 0.5 (categories 2-4, or a top class of a poor job: not separable) and for the empty
# classes (a flat tile, std < 1 grey level: RELION classes that lost all particles, trivially junk).
# The true scores below were read off the figure titles by eye (two readings, the second at 5x zoom, identical);
# the script checks every reading of 0.000 against the glyphs of tile 1's title (best correlation over shifts of
# up to 1 px in y and 3 px in x > 0.98) and every non-zero reading against it (< 0.98), so a zero/non-zero
# misreading would stop it (seen: 1.000 for all 78 zeros, at most 0.832 for the 22 others).
#
# Geometry (measured; 640 x 480 figures, grey, R = G = B): the tile rows start at y = 58, 157, 257, 356 and the
# columns at x = 82, 187, 292, 398, 503; a tile is 71 rows x 72 columns of rendered image (the last column is
# cut: 71 x 71 kept). The title's first number sits at y0 - 18 .. y0 - 2, x0 - 14 .. x0 + 40.
# Output (in ../real_extra/magellon_empiar10812_sample100/): empiar10812_sample100_fig8bit.mrcs (all 100 tiles in
# figure order, float32, rows flipped to MRC order, no pixel size: the tiles were resampled twice),
# labels.csv (checked against benchmarks/real_sets/magellon_empiar10812_sample100_labels.csv) and preview.png.
# Deterministic: the stack's data are identical between runs (only mrcfile's header time label changes).
import csv, io, os
import numpy as np, mrcfile
from PIL import Image

from fetched_file import copy_untouched

REPO = '/work/.mirror/sstagg+Magellon/repo'
COMMIT = '153fb996c815cd183b813fb871d00dfe6611a9be'
FOLDER = 'Sandbox/khom_test_projects/CNNTraining/scored-images'
BLOBS = ['f3be025dd4b6d3beca8551213801204545c1bf6c', 'bbb094b77b46eb6ff122a474a7f9a9d991e021c0',
         'faa9e94618ce2923428e6bc707b53ae2a64c7d8d', '4fe50205d090ae53399ae22cef97e3fd89361bec',
         'd99d49553c5d97f6c12247958abf0913cc086161']
DST = '/work/real_extra/magellon_empiar10812_sample100'
LABELS_IN_REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                              'magellon_empiar10812_sample100_labels.csv')
YS, XS, SIDE = (58, 157, 257, 356), (82, 187, 292, 398, 503), 71

# True class scores, figure by figure, row-major (the first number of each title).
TRUE = [
    [0.0] * 20,
    [0.0] * 12 + [0.019] + [0.0] * 7,
    [0.0] * 9 + [0.389] + [0.0] * 6 + [0.517] + [0.0] * 3,
    [0.558] + [0.0] * 11 + [0.350] + [0.0] * 2 + [0.763] + [0.0] * 3 + [0.762],
    [0.341, 0.0, 0.961, 0.0, 0.157, 0.757, 0.0, 0.962, 0.259, 0.949,
     0.175, 0.961, 0.820, 0.0, 0.175, 0.168, 0.267, 0.260, 0.358, 0.0],
]


def title_glyphs(grey, y0, x0, dy=0, dx=0):
    return grey[y0 - 18 + dy:y0 - 2 + dy, x0 - 14 + dx:x0 + 40 + dx].ravel()


def zero_likeness(grey, y0, x0, reference):
    """Best correlation of the title's first number with the reference "0.000" over shifts of a few pixels (the
    titles are placed at whole pixels that differ by up to 3 px between axes)."""
    return max(ncc(title_glyphs(grey, y0, x0, dy, dx), reference) for dy in (-1, 0, 1) for dx in range(-3, 4))


def ncc(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def cut():
    tiles, rows = [], []
    reference = None
    for k, blob in enumerate(BLOBS):
        name = f'scored_imgs_{k}.png'
        rgb = np.asarray(Image.open(copy_untouched(REPO, COMMIT, f'{FOLDER}/{name}',
                                                   os.path.join(DST, 'original', name), blob)).convert('RGB'))
        assert rgb.shape == (480, 640, 3) and (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all()
        grey = rgb[..., 0].astype(np.float64)
        for i in range(20):
            y0, x0 = YS[i // 5], XS[i % 5]
            assert (grey[y0 - 2:y0, x0:x0 + SIDE] == 255).all() and (grey[y0:y0 + SIDE, x0 - 2:x0] == 255).all()
            if reference is None:
                reference = title_glyphs(grey, y0, x0)  # figure 0, tile 1: "0.000 | 0.000"
            score = TRUE[k][i]
            similar = zero_likeness(grey, y0, x0, reference)
            assert (similar > 0.98) == (score == 0.0), (k, i, score, similar)
            tile = grey[y0:y0 + SIDE, x0:x0 + SIDE]
            empty = tile.std() < 1.0
            label = -1 if empty else 1 if score >= 0.5 else 0 if score == 0.0 else -1
            tiles.append(tile)
            rows.append([len(rows) + 1, label, f'{score:.3f}', k, i + 1, int(empty)])
    stack = np.stack(tiles).astype(np.float32)
    os.makedirs(DST, exist_ok=True)
    with mrcfile.new(os.path.join(DST, 'empiar10812_sample100_fig8bit.mrcs'), overwrite=True) as m:
        m.set_data(np.ascontiguousarray(stack[:, ::-1])); m.set_image_stack()
    text = io.StringIO()
    csv.writer(text, lineterminator='\n').writerows(
        [['class', 'label', 'true_score', 'figure', 'tile', 'empty']] + rows)
    open(os.path.join(DST, 'labels.csv'), 'w').write(text.getvalue())
    labels = np.array([r[1] for r in rows])
    print(stack.shape, 'kept', int((labels == 1).sum()), 'rejected', int((labels == 0).sum()),
          'left out', int((labels == -1).sum()), '(empty', sum(r[5] for r in rows), ')')
    prev = np.full((10 * (SIDE + 4), 10 * (SIDE + 4)), 255, np.uint8)  # unlabelled preview in figure order
    for n, t in enumerate(stack):
        r, c = divmod(n, 10)
        prev[r * (SIDE + 4):r * (SIDE + 4) + SIDE, c * (SIDE + 4):c * (SIDE + 4) + SIDE] = t
    Image.fromarray(prev).save(os.path.join(DST, 'preview.png'))
    if os.path.exists(LABELS_IN_REPO):
        assert open(LABELS_IN_REPO).read() == text.getvalue(), 'labels differ from the committed file'
        print('labels identical to the committed file')


if __name__ == '__main__':
    cut()
