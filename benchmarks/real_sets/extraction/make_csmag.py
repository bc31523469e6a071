import sys, os, csv, json, base64, subprocess, numpy as np, mrcfile
from cut_panels import cut  # beside this script
REPO = '/work/.mirror/cryoem-uoft+cryosparc-tools/repo'; C = '950df340237951f9ddf105cb4b1220668b0addb6'
DST = '/work/real_extra/cryosparc_tools_magnification_select2d'; O = DST + '/original'; os.makedirs(O, exist_ok=True)
nbb = subprocess.run(['git', '-C', REPO, 'show', f'{C}:docs/examples/magnification.ipynb'], check=True, capture_output=True).stdout
open(O + '/magnification.ipynb', 'wb').write(nbb)
open(DST + '/LICENSE_cryosparc-tools', 'wb').write(subprocess.run(['git', '-C', REPO, 'show', f'{C}:LICENSE'], check=True, capture_output=True).stdout)
nb = json.loads(nbb)
for cell, job in [(3, 'J38'), (5, 'J39')]:
    png = [o['data']['image/png'] for o in nb['cells'][cell]['outputs'] if 'data' in o and 'image/png' in o['data']][0]
    fn = f'{O}/magnification_cell{cell}_{job}_select2d.png'; open(fn, 'wb').write(base64.b64decode(png))
    rows, cols, panels, a = cut(fn)
    assert len(panels) == 12
    st = []; boxes = []
    for (r0, r1, c0, c1), _ in panels:  # row-major
        g = a[r0 + 1:r0 + 143, c0 + 1:c0 + 143].mean(axis=2)
        st.append(g); boxes.append((r0 + 1, r0 + 143, c0 + 1, c0 + 143))
    st = np.flip(np.stack(st).astype(np.float32), axis=1)
    with mrcfile.new(f'{DST}/{job}_selected12_fig8bit.mrcs', overwrite=True) as m:
        m.set_data(np.ascontiguousarray(st)); m.set_image_stack(); m.voxel_size = 1.0
    with open(f'{DST}/{job}_labels.csv', 'w', newline='') as f:
        w = csv.writer(f); w.writerow(['class', 'label', 'source', 'png_rows', 'png_cols'])
        for i, b in enumerate(boxes): w.writerow([i + 1, 1, f'kept by cryoSPARC Select 2D job {job} (templates_selected)', f'{b[0]}:{b[1]}', f'{b[2]}:{b[3]}'])
    print(job, st.shape)
