from frg_extract import *
DST = '/work/real_extra/relion4tut_betagal_job013_classranker'
O = os.path.join(DST, 'original'); os.makedirs(O, exist_ok=True)
stk = json_images(save_orig(O + '/job013', C_JSON, 'jobs/job013/cls2d_Class2D_job013_.json'))
dist = json_series(save_orig(O + '/job013', C_JSON, 'jobs/job013/cls2d_dist_Class2D_job013_.json'))
res = json_series(save_orig(O + '/job013', C_JSON, 'jobs/job013/cls2d_res_Class2D_job013_.json'))
for f in ['Class2D_job013_all.png', 'Class2D_job013_dist.png', 'Class2D_job013_res.png', 'index.html']:
    save_orig(O + '/job013', C_PAGES, f'{PFX}/job013/{f}')
for f in ['Select_job014_all.png', 'index.html']:
    save_orig(O + '/job014', C_PAGES, f'{PFX}/job014/{f}')
open(O + '/job013/page_text.txt', 'w').write(page_text(git_bytes(C_PAGES, f'{PFX}/job013/index.html')))
open(O + '/job014/page_text.txt', 'w').write(page_text(git_bytes(C_PAGES, f'{PFX}/job014/index.html')))
# class-gallery JPEGs of job013 (sorted by distribution) kept as originals, checked against JSON order
nj = list_jpgs(C_PAGES, 'job013'); order = np.argsort(dist[:, -1])[::-1]; agree = 0
for k in range(1, nj + 1):
    g = jpg_gray(save_orig(O + '/job013', C_PAGES, f'{PFX}/job013/{k}.jpg'))
    agree += int(np.argmax([ncc(g, r.astype(np.float32)) for r in stk]) == order[k - 1])
print('job013 jpg vs dist-sorted JSON agreement', agree, '/', nj)
print('stack', stk.shape, 'dist shape', dist.shape, 'sum last', dist[:, -1].sum())
write_stack(os.path.join(DST, 'job013_classes_100_json8bit.mrcs'), stk, 3.54)
rows = match_selection(stk, 'job014', DST)
sel = [r[1] for r in rows]
print('matches', rows[:5]); print('min best', min(r[2] for r in rows), 'max second', max(r[4] for r in rows), 'unique', len(set(sel)) == len(sel))
d_sel = [dist[c - 1, -1] for c in sel]
print('dist of matched non-increasing:', all(d_sel[i] >= d_sel[i + 1] - 1e-4 for i in range(len(d_sel) - 1)))
with open(os.path.join(DST, 'selection_match_job014.csv'), 'w', newline='') as f:
    w = csv.writer(f); w.writerow(['job014_jpg_index', 'job013_class', 'ncc_best', 'second_class', 'ncc_second'])
    for r in rows: w.writerow([r[0], r[1], f'{r[2]:.4f}', r[3], f'{r[4]:.4f}'])
with open(os.path.join(DST, 'labels.csv'), 'w', newline='') as f:
    w = csv.writer(f); w.writerow(['class', 'label', 'source'])
    for c in range(1, stk.shape[0] + 1):
        w.writerow([c, int(c in sel), 'RELION class ranker auto-select (Select/job014, --min_score 0.25) as published; 1=selected'])
with open(os.path.join(DST, 'metadata.csv'), 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['class', 'class_distribution_final', 'est_resolution_A_final', 'rank_by_distribution', 'n_particles_est(9191*dist)']
               + [f'dist_snap{i}' for i in range(dist.shape[1])])
    rank = {int(c) + 1: i + 1 for i, c in enumerate(order)}
    for c in range(1, stk.shape[0] + 1):
        w.writerow([c, f'{dist[c-1,-1]:.6f}', f'{res[c-1,-1]:.3f}', rank[c], round(9191 * dist[c-1, -1])] + [f'{x:.6f}' for x in dist[c-1]])
print('good', len(sel), 'bad', stk.shape[0] - len(sel))
