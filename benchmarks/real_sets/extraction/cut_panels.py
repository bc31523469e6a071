"""Cut a matplotlib grid figure into panels by finding runs of non-white rows/columns."""
import numpy as np
from PIL import Image
def runs(mask):
    r = []; start = None
    for i, m in enumerate(mask):
        if m and start is None: start = i
        if not m and start is not None: r.append((start, i)); start = None
    if start is not None: r.append((start, len(mask)))
    return r
def cut(path, white=250):
    a = np.array(Image.open(path).convert('RGB')).astype(np.int32)
    g = a.mean(axis=2)
    nonwhite = g < white
    cols = runs(nonwhite.any(axis=0)); rows = runs(nonwhite.any(axis=1))
    panels = []
    for (r0, r1) in rows:
        for (c0, c1) in cols:
            p = g[r0:r1, c0:c1]
            if (p < white).mean() > 0.5: panels.append(((r0, r1, c0, c1), p))
    return rows, cols, panels, a
