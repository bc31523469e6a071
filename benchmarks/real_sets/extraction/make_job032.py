from frg_extract import *
DST = '/work/real_extra/relion4tut_betagal_job032_nolabels'
import shutil; shutil.rmtree(DST, ignore_errors=True)
O = os.path.join(DST, 'original'); os.makedirs(O, exist_ok=True)
for f in ['Class2D_job032_all.png', 'Class2D_job032_dist.png', 'Class2D_job032_res.png', 'index.html']:
    save_orig(O + '/job032', C_PAGES, f'{PFX}/job032/{f}')
open(O + '/job032/page_text.txt', 'w').write(page_text(git_bytes(C_PAGES, f'{PFX}/job032/index.html')))
n = list_jpgs(C_PAGES, 'job032')
imgs = np.stack([jpg_gray(save_orig(O + '/job032', C_PAGES, f'{PFX}/job032/{k}.jpg')) for k in range(1, n + 1)])
print(imgs.shape)
write_stack(os.path.join(DST, 'job032_classes_40_galleryorder_jpg8bit.mrcs'), imgs, 3.54)
