"""The one step the extraction scripts share: a source file copied untouched out of a fetched repository.

``fetch github:<owner>/<name>`` leaves a bare git directory under ``/work/.mirror``; each script names the
commit and the git blob of the file it starts from, so a changed or different file is refused.
"""

import os
import subprocess


def copy_untouched(git_dir: str, commit: str, path_in_repo: str, dest: str, blob: str) -> str:
    """``dest``, copied from ``<commit>:<path_in_repo>`` of ``git_dir`` when missing, checked against ``blob``."""
    if not os.path.exists(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        data = subprocess.run(['git', '--git-dir', git_dir, 'show', f'{commit}:{path_in_repo}'],
                              check=True, capture_output=True).stdout
        with open(dest, 'wb') as out:
            out.write(data)
    got = subprocess.run(['git', 'hash-object', dest], check=True, capture_output=True, text=True).stdout.strip()
    if got != blob:
        raise SystemExit(f'{dest}: git blob {got}, expected {blob}')
    return dest
