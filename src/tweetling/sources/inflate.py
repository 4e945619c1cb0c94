"""Reply bodies decoded as they stream in, a bounded piece at a time.

httpx decodes each chunk it reads whole: a few hundred bytes of brotli, or of gzip inside gzip,
become gigabytes before the reply size cap can count them. Here each coding (gzip, deflate, br:
what httpx decodes) hands on at most PIECE bytes per step, so the cap stops a bomb as it passes.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterable, Iterator

import httpx

from .. import limits

try:
    import brotli  # type: ignore[import-untyped]
except ImportError:  # gradio requires it; without it (or before 1.2), br is neither asked for nor decoded
    brotli = None

PIECE = 64 * 1024  # most bytes one coding hands on per step


def _inflated(chunks: Iterable[bytes], wbits: int) -> Iterator[bytes]:
    """The zlib stream in CHUNKS (WBITS: 31 gzip, 15 zlib, -15 raw deflate), PIECE bytes at a time."""
    inflater = zlib.decompressobj(wbits)
    for chunk in chunks:
        while True:
            piece = inflater.decompress(chunk, PIECE)
            chunk = inflater.unconsumed_tail
            yield piece
            if not chunk and len(piece) < PIECE:  # a full piece may leave output inside zlib
                break
        if inflater.eof:  # what follows the stream is left unread, as httpx ignores it: it cannot pile up
            return
    yield inflater.flush()


def _gunzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    return _inflated(chunks, zlib.MAX_WBITS | 16)


def _deflated(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A deflate body: in a zlib stream as HTTP says, or raw as some servers send it (httpx reads both)."""
    chunks = iter(chunks)
    first = next(chunks, b"")
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return _inflated(itertools.chain([first], chunks), zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _unbrotlied(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decompressor = brotli.Decompressor()
    for chunk in chunks:
        yield decompressor.process(chunk, output_buffer_limit=PIECE)
        while not decompressor.can_accept_more_data():
            yield decompressor.process(b"", output_buffer_limit=PIECE)
        if decompressor.is_finished():
            return


DECODERS: dict[str, Callable[[Iterable[bytes]], Iterator[bytes]]] = {"gzip": _gunzipped, "deflate": _deflated}
if brotli is not None and hasattr(brotli.Decompressor, "can_accept_more_data"):  # brotli 1.2 bounds its output
    DECODERS["br"] = _unbrotlied
ACCEPT_ENCODING = ", ".join(DECODERS)
_ERRORS = (zlib.error, brotli.error) if brotli is not None else (zlib.error,)


def decoded(chunks: Iterable[bytes], codings: list[str]) -> Iterator[bytes]:
    """The body whose raw CHUNKS carry the Content-Encoding CODINGS, in the order applied.

    As httpx does, codings it does not know (identity, compress) are read as they came.
    """
    known = [coding.strip().lower() for coding in codings if coding.strip().lower() in DECODERS]
    if len(known) > limits.MAX_CONTENT_CODINGS:  # each holds a decoder's state
        raise httpx.DecodingError(f"{len(known)} content codings, more than {limits.MAX_CONTENT_CODINGS}")
    try:
        for coding in reversed(known):  # a deflate layer reads its first chunk here
            chunks = DECODERS[coding](chunks)
        yield from chunks
    except _ERRORS as error:
        raise httpx.DecodingError(str(error)) from None
