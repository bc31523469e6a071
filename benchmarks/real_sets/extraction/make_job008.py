from frg_extract import *
DST = '/work/real_extra/relion4tut_betagal_job008_classranker'
O = os.path.join(DST, 'original'); os.makedirs(O, exist_ok=True)
stk = json_images(save_orig(O + '/job008', C_JSON, 'jobs/job008/cls2d_Class2D_job008_.json'))
dist = json_series(save_orig(O + '/job008', C_JSON, 'jobs/job008/cls2d_dist_Class2D_job008_.json'))
res = json_series(save_orig(O + '/job008', C_JSON, 'jobs/job008/cls2d_res_Class2D_job008_.json'))
for f in ['Class2D_job008_all.png', 'Class2D_job008_dist.png', 'Class2D_job008_res.png', 'index.html']:
    save_orig(O + '/job008', C_PAGES, f'{PFX}/job008/{f}')
for f in ['Select_job009_all.png', 'index.html']:
    save_orig(O + '/job009', C_PAGES, f'{PFX}/job009/{f}')
open(O + '/job008/page_text.txt', 'w').write(page_text(git_bytes(C_PAGES, f'{PFX}/job008/index.html')))
open(O + '/job009/page_text.txt', 'w').write(page_text(git_bytes(C_PAGES, f'{PFX}/job009/index.html')))
nj = list_jpgs(C_PAGES, 'job008'); order = np.argsort(dist[:, -1])[::-1]; agree = 0
for k in range(1, nj + 1):
    g = jpg_gray(save_orig(O + '/job008', C_PAGES, f'{PFX}/job008/{k}.jpg'))
    if g.std() < 1e-6: continue
    agree += int(np.argmax([ncc(g, r.astype(np.float32)) for r in stk]) == order[k - 1])
print('job008 jpg vs dist-sorted JSON agreement', agree, '/', nj)
print('stack', stk.shape, 'dist', dist.shape, 'sum last', dist[:, -1].sum(), 'empty images', [i+1 for i in range(len(stk)) if stk[i].std()==0])
write_stack(os.path.join(DST, 'job008_classes_50_json8bit.mrcs'), stk, 3.54)
rows = match_selection(stk, 'job009', DST)
sel = [r[1] for r in rows]
print('matches', rows); print('unique', len(set(sel)) == len(sel))
with open(os.path.join(DST, 'selection_match_job009.csv'), 'w', newline='') as f:
    w = csv.writer(f); w.writerow(['job009_jpg_index', 'job008_class', 'ncc_best', 'second_class', 'ncc_second'])
    for r in rows: w.writerow([r[0], r[1], f'{r[2]:.4f}', r[3], f'{r[4]:.4f}'])
with open(os.path.join(DST, 'labels.csv'), 'w', newline='') as f:
    w = csv.writer(f); w.writerow(['class', 'label', 'source'])
    for c in range(1, stk.shape[0] + 1):
        w.writerow([c, int(c in sel), 'RELION class ranker auto-select (Select/job009, --min_score 0.5) as published; 1=selected'])
with open(os.path.join(DST, 'metadata.csv'), 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['class', 'class_distribution_final', 'est_resolution_A_final', 'rank_by_distribution', 'n_particles_est(2377*dist)']
               + [f'dist_snap{i}' for i in range(dist.shape[1])])
    rank = {int(c) + 1: i + 1 for i, c in enumerate(order)}
    for c in range(1, stk.shape[0] + 1):
        w.writerow([c, f'{dist[c-1,-1]:.6f}', f'{res[c-1,-1]:.3f}', rank[c], round(2377 * dist[c-1, -1])] + [f'{x:.6f}' for x in dist[c-1]])
print('good', len(sel), 'bad', stk.shape[0] - len(sel))
