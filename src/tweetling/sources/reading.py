"""Reading input files within the caps of `tweetling.limits`.

A file that never ends (/dev/zero, a FIFO), a line that never ends, or a zip member that would
inflate to gigabytes stops with one line naming the file, instead of filling memory.
"""

from __future__ import annotations

import codecs
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .. import limits
from ..errors import InputError

_HEAD_BYTES = 64 * 1024


def read_file(path: Path, where: str, starts: tuple[bytes, ...], refusal: str) -> bytes:
    """The bytes of the data file at PATH; see read_data."""
    with open(path, "rb") as handle:
        return read_data(handle, where, starts, refusal)


def read_data(handle: IO[bytes], where: str, starts: tuple[bytes, ...], refusal: str) -> bytes:
    """All of HANDLE, at most limits.MAX_DATA_FILE_BYTES.

    Its first bytes (after a BOM and blanks) must begin with one of STARTS, else REFUSAL is the
    error: a stream that is no data file at all (/dev/zero) is refused before it is read.
    """
    cap = limits.MAX_DATA_FILE_BYTES
    head = handle.read(_HEAD_BYTES)
    if not starts_with(head, starts):
        raise InputError(where, refusal)
    data = head + handle.read(cap + 1 - len(head))
    if len(data) > cap:
        raise InputError(where, f"larger than {limits.size(cap)}, the most one archive data file may hold")
    return data


def starts_with(head: bytes, starts: tuple[bytes, ...]) -> bool:
    """Whether HEAD, after a BOM and blanks, begins with one of STARTS."""
    return head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(starts)


def check_zip_member(info: zipfile.ZipInfo, where: str) -> None:
    """Refuse a member whose declared size passes the caps, before any of it is inflated."""
    cap = limits.MAX_DATA_FILE_BYTES
    if info.file_size > cap:
        raise InputError(
            where,
            f"{limits.size(info.file_size)} uncompressed, more than the {limits.size(cap)} one data file may hold",
        )
    if info.file_size > limits.MiB and info.file_size > limits.MAX_ZIP_RATIO * max(info.compress_size, 1):
        raise InputError(
            where,
            f"inflates {info.file_size / max(info.compress_size, 1):,.0f}-fold"
            f" (more than {limits.MAX_ZIP_RATIO}-fold): not an archive export",
        )


def read_zip_member(path: Path, member: str, where: str, starts: tuple[bytes, ...], refusal: str) -> bytes:
    """The bytes of MEMBER of the zip at PATH (see read_data); a corrupt member (bad CRC, broken
    deflate, cut short) is an InputError saying so. zipfile never inflates more than the declared size."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            check_zip_member(info, where)
            with zf.open(info) as handle:
                return read_data(handle, where, starts, refusal)
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as error:
        raise InputError(where, f"corrupt zip ({error})") from None
    except (NotImplementedError, RuntimeError) as error:  # an unknown compression method, a password
        raise InputError(where, f"cannot read this zip member ({error})") from None


def numbered_lines(path: Path, name: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of each line of the UTF-8 file at PATH, line endings kept, a BOM skipped.

    A line that is not UTF-8 is an error naming that line; so are a line longer than
    limits.MAX_LINE_BYTES and a file longer than limits.MAX_FILE_BYTES.
    """
    total = number = 0
    with open(path, "rb") as handle:
        while raw := handle.readline(limits.MAX_LINE_BYTES + 1):
            total += len(raw)
            if len(raw) > limits.MAX_LINE_BYTES:
                raise InputError(f"{name}:{number + 1}", f"line longer than {limits.size(limits.MAX_LINE_BYTES)}")
            if total > limits.MAX_FILE_BYTES:
                raise InputError(name, f"larger than {limits.size(limits.MAX_FILE_BYTES)}, the most one file may hold")
            if number == 0:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            # Lines end at \n, \r\n or a lone \r, as Python's universal newlines read them.
            for piece in raw.splitlines(keepends=True) if b"\r" in raw else (raw,):
                number += 1
                try:
                    yield number, piece.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise InputError(
                        f"{name}:{number}", f"not UTF-8 text ({error.reason} at byte {error.start + 1})"
                    ) from None
