"""Files the page hands to the browser (a packed download, a predictions image): each kind lives
in one folder of this process that holds only the newest, so repeated clicks don't fill the disk
with copies of a model. Gradio serves its own copy of a handed-out file (cleaned by the app's
`delete_cache`), made before the next event of the same kind runs: the queue runs one at a time."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_root: Path | None = None


def fresh_folder(kind: str) -> Path:
    """An empty folder for the next file of KIND, the previous one's removed."""
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="tweetling-web-"))
        atexit.register(shutil.rmtree, _root, True)
    folder = _root / kind
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder
