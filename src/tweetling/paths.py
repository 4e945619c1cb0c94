"""Where tweetling keeps its files: one home folder, overridable with TWEETLING_HOME."""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import TweetlingError

# Handles from X, Mastodon (user@host) and Bluesky (a domain) all fit here; anything else
# could escape a folder once the name becomes part of a path.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}")


def home() -> Path:
    root = Path(os.environ.get("TWEETLING_HOME") or Path.home() / ".tweetling")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file, a path through one, or a broken link
        named = "TWEETLING_HOME=" if os.environ.get("TWEETLING_HOME") else "the tweetling home "
        if root.is_symlink() and not root.exists():
            raise TweetlingError(
                f"{named}{root} is not a folder: it links to {root.readlink()}, which is missing"
            ) from None
        raise TweetlingError(f"{named}{root} is not a folder (nor can one be made there)") from None
    except OSError as error:
        raise TweetlingError(f"cannot make the tweetling home {root}: {error.strerror}") from None
    return root


def db_path() -> Path:
    return home() / "tweetling.db"


def datasets_dir() -> Path:
    return home() / "datasets"


def bots_dir() -> Path:
    return home() / "bots"


def models_dir() -> Path:
    return home() / "models"


def exports_dir() -> Path:
    return home() / "exports"


def is_name(name: object) -> bool:
    """Whether NAME is safe to use inside a path (and as an account or bot name)."""
    return isinstance(name, str) and bool(_NAME.fullmatch(name)) and ".." not in name


def checked_name(name: str, what: str = "account name") -> str:
    """Return NAME if it is safe to use inside a path, else raise."""
    if not is_name(name):
        raise TweetlingError(f"invalid {what} {name!r}: use letters, digits and _ . @ - (at most 100 characters)")
    return name


def check_replaceable(target: Path, marker: str) -> None:
    """Refuse TARGET as a folder to be replaced whole (a bot, an export) where that would delete
    what tweetling did not write: a file, a folder without MARKER holding other files, the current
    folder or one holding it."""
    where = Path.cwd()
    if not target.name or target.resolve() in (where, *where.parents):
        raise TweetlingError(f"{target} is the current folder or holds it: name a new folder")
    if target.is_symlink():
        raise TweetlingError(f"{target} is a link: name the folder itself, or a new one")
    if target.exists() and not target.is_dir():
        raise TweetlingError(f"{target} is a file, not a folder: name a new folder")
    if target.is_dir() and not (target / marker).is_file() and any(target.iterdir()):
        raise TweetlingError(
            f"{target} holds files tweetling did not write (it has no {marker}), which writing there would "
            "delete: name a new or empty folder"
        )


def _umask() -> int:
    mask = os.umask(0o022)  # reading it means setting it: done once, at import
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside TARGET; it replaces TARGET only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_UMASK)  # as open() would make it (mkstemp's 0600 is for secrets, which say so)
    try:
        with _naming(target):
            yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside TARGET to fill; it replaces TARGET only if the block succeeds,
    so readers never see half a folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        with _naming(target):
            yield tmp
        _usual_modes(tmp)
        replace_folder(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _usual_modes(folder: Path) -> None:
    """Give the files in FOLDER the mode open() would: safetensors writes its weights 0600, which
    leaves a bot or export shared with another user half unreadable."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~_UMASK)


@contextmanager
def _naming(target: Path) -> Iterator[None]:
    """A write error that names no file (a full disk: "File too large") as one naming TARGET."""
    try:
        yield
    except OSError as error:
        if error.filename is not None or error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(target)) from error


def replace_folder(built: Path, target: Path) -> None:
    """Move the finished folder BUILT to TARGET, removing an older TARGET only once BUILT is in place.

    Two writers of one folder (two trainings of an account, `export` twice) may replace it at
    once: each moves older folders into a place of its own, and the last one in stays."""
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    try:
        for attempt in range(_REPLACE_ATTEMPTS):
            try:
                os.replace(built, target)  # a folder replaces only an empty one: not a finished TARGET
                return
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == _REPLACE_ATTEMPTS - 1:
                    raise
            with suppress(FileNotFoundError):  # another writer moved it aside first
                os.replace(target, aside / str(attempt))
    finally:
        shutil.rmtree(aside, ignore_errors=True)


_REPLACE_ATTEMPTS = 20


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
