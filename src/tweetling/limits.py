"""Every cap on what a file, a server or a command line can make tweetling read, hold or wait for.

The caps are generous for real data: the largest real X archives hold about 100,000 posts,
whose data/tweets.js is about 170 MB. Passing one stops the import or fetch with one line
naming the file or URL and the cap, and the store is left as it was (README: "Limits and
failure behaviour"). Code reads them as `limits.NAME` when it runs, so a test can lower one
(the HTTP ones are the defaults of `sources.http.RetryPolicy`, which a fetch can set).
"""

from typing import Any

MiB = 2**20

# Imported files and archives
MAX_POST_CHARS = 100_000  # characters of one post's text (X long posts: 25,000; Mastodon servers allow less)
MAX_POSTS_PER_IMPORT = 2_000_000  # posts in one imported file or archive (20x the largest real archives)
MAX_LINE_BYTES = 16 * MiB  # one line of a CSV, JSONL or text file (a JSONL line holds a whole API record)
MAX_FILE_BYTES = 4096 * MiB  # a CSV, JSONL or text file, read as a stream
MAX_DATA_FILE_BYTES = 1024 * MiB  # one archive data file (tweets.js, a part, account.js), read whole
MAX_ARCHIVE_BYTES = 2048 * MiB  # all the data files of one archive, uncompressed
MAX_ZIP_RATIO = 100  # uncompressed / compressed size of a zip member over 1 MiB (tweets.js compresses ~10x)

# Network sources
MAX_REPLY_BYTES = 32 * MiB  # one HTTP reply body, decompressed (a page of 100 posts is well under 2 MB)
MAX_CONTENT_CODINGS = 4  # encodings stacked on one reply (servers apply one; each decodes with its own state)
REQUEST_DEADLINE_S = 120.0  # one HTTP request from connecting to its last byte, beside the per-read timeout
MAX_PAGES_PER_RUN = 10_000  # pages one fetch run walks (400,000 Mastodon posts); the next run continues
MAX_CURSOR_CHARS = 4096  # a page cursor a server hands back (they are tens of characters)

# Images
MAX_AVATAR_PIXELS = 4096 * 4096  # an avatar image, checked before it is decoded (services keep them under 1000x1000)

# What a user asks for
MAX_POSTS_PER_CALL = 1_000  # posts one `generate`, `draft` or `preview` samples (each holds its batch in memory)
MAX_UPLOAD_MB = 64 * 1024  # `serve --max-upload-mb`: an X archive with its media is a few GB
MAX_EVAL_POSTS = 10_000  # posts `eval` samples for its text metrics, in batches

# The store
BUSY_TIMEOUT_S = 60.0  # how long a write waits for another process's write to finish
MAX_JSON_DEPTH = 100  # nesting of a stored raw record (real tweets nest under 10 levels)


def size(n_bytes: int) -> str:
    """N_BYTES for a message: MiB from one MiB up, bytes below."""
    return f"{n_bytes / MiB:,.0f} MiB" if n_bytes >= MiB else f"{n_bytes:,} bytes"


def too_deep(value: Any, text: str) -> bool:
    """Whether VALUE (parsed from, or written as, the JSON TEXT) nests deeper than MAX_JSON_DEPTH."""
    # Nesting needs an opening bracket per level: counting them is a cheap test that spares the walk.
    return text.count("{") + text.count("[") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH


def _depth(value: Any) -> int:
    """How deeply VALUE's containers nest (without recursion, so any depth can be measured)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
