"""Outside text (archive, server and model data) made safe to print to a terminal.

A display name or a post can carry escape sequences: colours, a cleared screen, a rewritten
window title or a clickable OSC-8 link whose target differs from its text. Printed as is, a
terminal obeys them; here they are removed along with every other control character.
"""

from __future__ import annotations

import re

from rich.markup import escape as escape_markup

# Escape sequences as a terminal parses them, in their 7-bit (ESC ...) and 8-bit (C1) forms;
# a sequence cut off by the end of the text is removed to the end.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI: colour, cursor movement, clear screen
    r"|(?:\x1b[\]P^_X]|[\x9d\x90\x9e\x9f\x98])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC (links, title), DCS, PM, APC, SOS
    r"|\x1b[ -/]*[0-~]?"  # any other escape
)
# What is left of the C0 and C1 controls except tab and newline, DEL, and the bidirectional
# overrides that make a terminal show text in another order than it is stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, replacement: str = "") -> str:
    """TEXT without escape sequences and control characters (tabs and newlines stay), each
    replaced by REPLACEMENT (a space keeps the words on either side apart). Also what a bot may
    learn, post or draw: such characters are never a post's meaning."""
    if text.isprintable():  # the common case: nothing to remove
        return text
    return _CONTROL.sub(replacement, _SEQUENCE.sub(replacement, text))


def whole_characters(text: str) -> str:
    """TEXT with each lone UTF-16 surrogate (half a pair, from a server or a JSON escape; UTF-8,
    SQLite and tokenizers refuse it) replaced by U+FFFD; a pair split in two is joined back."""
    return text if text.isascii() else text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def escape(text: str) -> str:
    """TEXT for rich's console.print: control characters removed and rich markup escaped.

    The one helper the CLI uses for every piece of outside data it prints. A lone surrogate (a
    file name's byte that is not UTF-8) shows as its escape, as a terminal cannot print it."""
    return escape_markup(terminal_safe(text).encode("utf-8", "backslashreplace").decode("utf-8"))
