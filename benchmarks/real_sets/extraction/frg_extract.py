"""Extract RELION-4 tutorial Class2D galleries published by dzyla/Follow_Relion_gracefully.
Written for CryoDiscovery provenance; reads git objects from the local mirror."""
import sys, os, io, json, base64, subprocess, csv, re, html
import numpy as np, mrcfile
from PIL import Image
REPO = '/work/.mirror/dzyla+Follow_Relion_gracefully/repo'
C_JSON = '8b79e49ef7fe7bf277093eb7afd06619b21bbe7b'   # gh-pages deploy 2023-04-11, has plotly JSON
C_PAGES = '816614bcfc100c3370223c88a987141e627b03a1'  # gh-pages head 2023-05-06
PFX = 'relion40_tutorial_precalculated_results/jobs'

def git_bytes(commit, path):
    return subprocess.run(['git', '-C', REPO, 'show', f'{commit}:{path}'], check=True, capture_output=True).stdout

def save_orig(dst, commit, path, name=None):
    os.makedirs(dst, exist_ok=True)
    b = git_bytes(commit, path)
    open(os.path.join(dst, name or os.path.basename(path)), 'wb').write(b)
    return b

def json_images(b):
    d = json.loads(b); names, ims = [], []
    for tr in d['data']:
        im = Image.open(io.BytesIO(base64.b64decode(tr['source'].split(',', 1)[1])))
        assert im.mode == 'L'
        names.append(int(tr['name'])); ims.append(np.array(im))
    assert names == list(range(len(names)))
    return np.stack(ims)

def json_series(b):
    d = json.loads(b); out = []
    for k, tr in enumerate(d['data']):
        assert tr['name'] == f'class {k+1}'
        y = tr['y'];  y = eval(y.replace('None', 'float("nan")')) if isinstance(y, str) else y
        out.append(np.array(y, float))
    return np.stack(out)

def jpg_gray(b):
    a = np.array(Image.open(io.BytesIO(b)).convert('RGB')).astype(np.float32)
    return a.mean(axis=2)

def ncc(a, b):
    a = (a - a.mean()) / (a.std() + 1e-9); b = (b - b.mean()) / (b.std() + 1e-9); return float((a * b).mean())

def write_stack(path, arr, apix):
    arr = np.ascontiguousarray(np.flip(arr, axis=1).astype(np.float32))  # image row 0 = top -> MRC y up
    with mrcfile.new(path, overwrite=True) as m:
        m.set_data(arr); m.set_image_stack(); m.voxel_size = apix

def page_text(b):
    t = b.decode('utf8', 'replace')
    t = re.sub(r'<style.*?</style>', '', t, flags=re.S); t = re.sub(r'<script.*?</script>', '', t, flags=re.S)
    t = re.sub(r'<[^>]+>', ' ', t); t = html.unescape(t); t = re.sub(r'\s+', ' ', t)
    return t[t.find('Job:'):]

def list_jpgs(commit, job):
    out = subprocess.run(['git', '-C', REPO, 'ls-tree', '--name-only', commit, f'{PFX}/{job}/'], check=True, capture_output=True, text=True).stdout.split()
    n = sorted(int(os.path.basename(p)[:-4]) for p in out if p.endswith('.jpg'))
    assert n == list(range(1, len(n) + 1)), n
    return len(n)

def match_selection(ref_stack, sel_job, dst, commit=C_PAGES):
    """Match each selected-class JPEG (Select job, sorted by distribution) to a class of ref_stack."""
    n = list_jpgs(commit, sel_job); rows = []
    os.makedirs(os.path.join(dst, 'original', sel_job), exist_ok=True)
    for k in range(1, n + 1):
        b = save_orig(os.path.join(dst, 'original', sel_job), commit, f'{PFX}/{sel_job}/{k}.jpg')
        g = jpg_gray(b)
        if g.shape != ref_stack.shape[1:]:
            g = np.array(Image.fromarray(g).resize(ref_stack.shape[1:][::-1], Image.BILINEAR))
        s = np.array([ncc(g, r.astype(np.float32)) for r in ref_stack])
        o = np.argsort(s)[::-1]
        rows.append((k, int(o[0]) + 1, float(s[o[0]]), int(o[1]) + 1, float(s[o[1]])))
    return rows
