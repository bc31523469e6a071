import sys, csv, numpy as np, mrcfile
from PIL import Image, ImageDraw
stack, labels, out = sys.argv[1], sys.argv[2], sys.argv[3]
d = np.flip(mrcfile.open(stack).data, axis=1)
lab = {int(r['class']): int(r['label']) for r in csv.DictReader(open(labels))} if labels != '-' else {}
n, h, w = d.shape; s = 96; cols = 10; rows = (n + cols - 1) // cols
M = Image.new('RGB', (cols * (s + 6), rows * (s + 18)), 'white'); dr = ImageDraw.Draw(M)
for i in range(n):
    a = d[i]; a = (a - a.min()) / (np.ptp(a) + 1e-9) * 255
    im = Image.fromarray(a.astype(np.uint8)).resize((s, s), Image.NEAREST).convert('RGB')
    x, y = (i % cols) * (s + 6), (i // cols) * (s + 18)
    col = {1: (0, 200, 0), 0: (220, 0, 0)}.get(lab.get(i + 1), (128, 128, 128))
    dr.rectangle([x, y + 14, x + s + 5, y + s + 17], fill=col); M.paste(im, (x + 3, y + 17))
    dr.text((x + 3, y + 1), f'{i+1}', fill='black')
M.save(out)
