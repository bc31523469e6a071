# 24 real 2D class averages labelled good / bad by the Cianfrocco lab, cut out of the figure of their
# "Old-school-processing" wiki: cianfrocco-lab/Old-school-processing (MIT, "Copyright (c) 2018 Cianfrocco Lab") @
# 42bbe57 ("Added wiki images", M. A. Cianfrocco, 2018-06-06; unchanged at HEAD 064cd50), path
# wiki_images/2dclass_junk1.png (880 x 362, RGBA, grey: R = G = B within 2; the TIFF beside it has the same pixels).
# The figure has two panels, each a 3 x 4 grid of class averages on a dark background, captioned "Good class
# averages" (left) and "Bad class averages" (right); the wiki's 2D-classification page points to it for removing junk
# ("throw out the particles that went to class averages that do not look like your sample"). Label = the panel:
# 1 for the left panel, 0 for the right. Specimen, pixel size, program and particle counts are not given (white
# protein on a dark, masked field; the lab's wiki is about negative-stain and RELION processing).
#
# Geometry (measured on the figure): each panel is 428 px wide (left x 5.5 .. 433.5, right 447.5 .. 875.5) and
# 319 px high (y 37.5 .. 356.5); the tiles are separated by dark lines 1-3 px wide at x = 111-112, 218-220,
# 326-327 (left) and 553-555, 661-662, 768-769 (right), y = 142-144 and 250-251, i.e. a pitch of 107 px across and
# ~106.4 px down. Tile centres: x = 59, 166, 273, 380 (left) and 501, 608, 715, 822 (right), y = 91, 197, 304; a
# 100 x 100 px square is cut around each centre, so no separator line or panel edge is inside (checked below).
# Class = figure order: left panel row by row (classes 1-12, good), then the right panel (13-24, bad).
# A faint mark (a few px, grey 46-62 on 55) at the top-left corner of the first good tile (x 7-12, y 38-42) lies
# mostly outside its cut (x >= 9, y >= 41) and is left as it is.
# Output (in ../real_extra/cianfrocco_oldschool_goodbad24/): goodbad24_fig8bit.mrcs (24 x 100 x 100, grey = RGB
# mean, float32, rows flipped to MRC order, no pixel size), labels.csv (checked against
# benchmarks/real_sets/cianfrocco_oldschool_goodbad24_labels.csv), preview.png (labelled) and SOURCE.md.
# Deterministic: the stack's data are identical between runs (only mrcfile's header time label changes).
import csv, io, os
import numpy as np, mrcfile
from PIL import Image

from fetched_file import copy_untouched

REPO = '/work/.mirror/cianfrocco-lab+Old-school-processing/repo'
COMMIT = '42bbe57ea186728eebea42c13367479fdc0d6bc3'
PATH = 'wiki_images/2dclass_junk1.png'
BLOB = 'f93b47e7aa410557328df1f451a2c5a724511f4a'
DST = '/work/real_extra/cianfrocco_oldschool_goodbad24'
LABELS_IN_REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                              'cianfrocco_oldschool_goodbad24_labels.csv')

PANELS = (('good', 1, (59, 166, 273, 380)), ('bad', 0, (501, 608, 715, 822)))
ROWS = (91, 197, 304)
HALF = 50
SEPARATORS_X = (111, 219, 326, 554, 661, 769)
SEPARATORS_Y = (143, 250)


def main():
    src = copy_untouched(REPO, COMMIT, PATH, os.path.join(DST, 'original', os.path.basename(PATH)), BLOB)
    rgb = np.asarray(Image.open(src).convert('RGB')).astype(np.int32)
    assert rgb.shape == (362, 880, 3) and np.ptp(rgb, axis=-1).max() <= 2
    grey = rgb.mean(-1)
    # the separator lines are where measured: darker than the tile background (~55) along their length
    for x in SEPARATORS_X:
        assert grey[40:355, x].mean() < 40, x
    for y in SEPARATORS_Y:
        assert grey[y, 10:430].mean() < 40 and grey[y, 452:872].mean() < 40, y
    tiles, rows = [], [['class', 'label', 'panel', 'panel_row', 'panel_col', 'label_source']]
    for name, label, xs in PANELS:
        for r, yc in enumerate(ROWS):
            for c, xc in enumerate(xs):
                tile = grey[yc - HALF:yc + HALF, xc - HALF:xc + HALF]
                # no separator line or white page inside the cut: its outer rows and columns are tile background
                for edge in (tile[0], tile[-1], tile[:, 0], tile[:, -1]):
                    assert 40 < edge.mean() < 80, (name, r, c, edge.mean())
                tiles.append(tile)
                rows.append([len(tiles), label, name, r + 1, c + 1,
                             f'figure panel "{"Good" if label else "Bad"} class averages"'])
    stack = np.stack(tiles).astype(np.float32)
    os.makedirs(DST, exist_ok=True)
    with mrcfile.new(os.path.join(DST, 'goodbad24_fig8bit.mrcs'), overwrite=True) as m:
        m.set_data(np.ascontiguousarray(stack[:, ::-1])); m.set_image_stack()
    text = io.StringIO(); csv.writer(text, lineterminator='\n').writerows(rows)
    open(os.path.join(DST, 'labels.csv'), 'w').write(text.getvalue())
    committed = open(LABELS_IN_REPO).read()
    assert text.getvalue() == committed, 'labels differ from the committed file'
    # preview: the tiles in class order, 8 per row, a green (kept) or red (rejected) bar under each
    s, cols = 100, 8
    prev = np.full((3, 3 * (s + 12), cols * (s + 4)), 255, np.uint8)
    for i, t in enumerate(stack):
        y, x = (i // cols) * (s + 12), (i % cols) * (s + 4)
        prev[:, y:y + s, x:x + s] = np.clip(t, 0, 255).astype(np.uint8)
        prev[:, y + s + 2:y + s + 8, x:x + s] = np.array([0, 200, 0] if rows[i + 1][1] else [220, 0, 0])[:, None, None]
    Image.fromarray(np.moveaxis(prev, 0, -1)).save(os.path.join(DST, 'preview.png'))
    open(os.path.join(DST, 'SOURCE.md'), 'w').write(
        '# cianfrocco_oldschool_goodbad24\n\n'
        'Source: https://github.com/cianfrocco-lab/Old-school-processing @ ' + COMMIT + ' (unchanged at HEAD 064cd50), '
        '`' + PATH + '` (git blob ' + BLOB + '), copied untouched to `original/`.\n'
        'Licence: MIT (Copyright (c) 2018 Cianfrocco Lab; `LICENSE` at the repository root).\n'
        'What: a wiki figure with two panels of 12 real 2D class averages each, "Good class averages" (label 1) and '
        '"Bad class averages" (label 0); the labels are the lab\'s (the panel a class is in). Specimen, pixel size, '
        'program and particle counts not given.\n'
        'Made by: benchmarks/real_sets/extraction/make_oldschool_goodbad.py (100 x 100 px cut around each tile '
        'centre; class = figure order, left panel row by row, then the right).\n')
    print(stack.shape, 'kept', sum(r[1] for r in rows[1:]), 'rejected', sum(1 - r[1] for r in rows[1:]),
          'labels identical to the committed file')


if __name__ == '__main__':
    main()
