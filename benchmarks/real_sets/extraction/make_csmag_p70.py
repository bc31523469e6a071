# cryoSPARC Select 2D jobs J104 / J105 of project P70 (T20S, EMPIAR-10025 subsets at 0.6575 and 0.8767 A/px),
# shown in an earlier version of cryosparc-tools docs/examples/magnification.ipynb (cells 3 and 5; later replaced
# by the P251 J38/J39 version used for cryosparc_magnification_j38/_j39). Commit 756a736 ("docs: add license")
# holds this notebook version (blob 2f275dce) together with the BSD-3-Clause LICENSE.
# Each figure is one row of the job's templates_selected (classes kept by Select 2D): positives only.
import csv, json, base64, os, subprocess, sys
import numpy as np, mrcfile
from cut_panels import cut  # beside this script
REPO = '/work/.mirror/cryoem-uoft+cryosparc-tools/repo'; C = '756a736c48195fe0b164b18ccb41a60350c59d17'
DST = '/work/real_extra/cryosparc_tools_magnification_p70_select2d'; O = DST + '/original'; os.makedirs(O, exist_ok=True)
git = lambda spec: subprocess.run(['git', '-C', REPO, 'show', spec], check=True, capture_output=True).stdout
nbb = git(f'{C}:docs/examples/magnification.ipynb'); open(O + '/magnification_P70.ipynb', 'wb').write(nbb)
open(DST + '/LICENSE_cryosparc-tools', 'wb').write(git(f'{C}:LICENSE'))
nb = json.loads(nbb)
for cell, job, apix in [(3, 'J104', 0.6575), (5, 'J105', 0.876667)]:
    assert f'find_job("{job}")' in ''.join(nb['cells'][cell]['source'])
    png = [o['data']['image/png'] for o in nb['cells'][cell]['outputs'] if 'data' in o and 'image/png' in o['data']][0]
    fn = f'{O}/magnification_P70_cell{cell}_{job}_select2d.png'; open(fn, 'wb').write(base64.b64decode(png))
    rows, cols, panels, a = cut(fn)
    assert len(panels) == 11, len(panels)
    st, boxes = [], []
    for (r0, r1, c0, c1), _ in panels:  # one row, left to right = templates_selected order
        assert r1 - r0 == 142 and c1 - c0 == 143
        st.append(a[r0:r1, c0:c0 + 142].mean(axis=2)); boxes.append((r0, r1, c0, c0 + 142))
    st = np.flip(np.stack(st).astype(np.float32), axis=1)  # imshow(origin='lower'): flip rows back to MRC order
    with mrcfile.new(f'{DST}/{job}_selected11_fig8bit.mrcs', overwrite=True) as m:
        m.set_data(np.ascontiguousarray(st)); m.set_image_stack(); m.voxel_size = 1.0
    with open(f'{DST}/{job}_labels.csv', 'w', newline='') as f:
        w = csv.writer(f); w.writerow(['class', 'label', 'source', 'png_rows', 'png_cols'])
        for i, b in enumerate(boxes):
            w.writerow([i + 1, 1, f'kept by cryoSPARC Select 2D job P70 {job} (templates_selected); particle {apix} A/px',
                        f'{b[0]}:{b[1]}', f'{b[2]}:{b[3]}'])
    print(job, st.shape, float(st.min()), float(st.max()))
