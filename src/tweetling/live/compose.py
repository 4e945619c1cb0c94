"""What generated text becomes before it is posted: nobody pinged, no links, nothing blocked,
within the service's length limit."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import regex

from .. import paths
from ..errors import InputError
from ..generate import sampled_text, words
from ..share import x_length

BLOCKLIST_FILE = "blocklist.txt"

# Limits as each service counts them: Mastodon's default (an instance may allow more; connect
# reads it), Bluesky's 300 graphemes, X's 280 weighted characters.
MASTODON_DEFAULT_LIMIT = 500
BLUESKY_LIMIT = 300
X_LIMIT = 280

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
# Each starts only where its run of characters starts: tried from every position of a long run,
# they would take time growing with the square of its length.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Bare domains that services turn into links ("example.com/page"), by their common endings.
_DOMAIN = re.compile(
    r"(?i)(?<![a-z0-9.-])\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\."
    r"(?:com|org|net|io|co|me|ly|gg|app|dev|ai|xyz|info|social|link|site|online|tv|to|uk|de|fr|us|ca)\b(?:/\S*)?"
)
# "@user" and "@user@instance": an @ not preceded by a word character, as the services parse it.
_MENTION = re.compile(
    r"(?<![\w@])[@＠]([A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)(?:@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?"
)


_HANDLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,252}$")


def is_handle(text: str) -> bool:
    """Whether TEXT looks like a Mastodon acct or a Bluesky handle (safe to address and to show)."""
    return bool(_HANDLE.match(text))


def strip_links(text: str) -> str:
    """TEXT without web links, e-mail addresses or bare domains a service would link."""
    return _DOMAIN.sub("", _EMAIL.sub("", _URL.sub("", text)))


def neutralise_mentions(text: str) -> str:
    """'@alice@social.example hi @bob' -> 'alice hi bob': the names stay, nobody is notified."""
    return _MENTION.sub(lambda match: match.group(1), text)


def plain(text: str) -> str:
    """TEXT with escape sequences, control characters and bidi overrides (which make a post show
    other than it reads in the queue) as spaces, and without the replacement characters of a
    character the model cut in half; newlines stay, a tab is a space."""
    return sampled_text(text).replace("\t", " ")


def prepare(text: str) -> str:
    """Generated TEXT as it may be posted: links dropped, mentions neutralised, control
    characters removed, spacing tidied."""
    text = plain(strip_links(neutralise_mentions(text)))  # "@bob@host" is a mention, not an e-mail address
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return "\n".join(lines).strip()


def as_reply(service: str, text: str, author: str) -> str:
    """TEXT as sent in reply to AUTHOR: Mastodon addresses them, so the reply reaches them and
    joins the thread; Bluesky and X thread replies by reference."""
    return f"@{author} {text}" if service == "mastodon" else text


def graphemes(text: str) -> int:
    """User-perceived characters, as Mastodon and Bluesky count them (an emoji with modifiers is one)."""
    return len(regex.findall(r"\X", text))


def length(text: str, service: str) -> int:
    return x_length(text) if service == "x" else graphemes(text)


@dataclass(frozen=True)
class Blocklist:
    """Words and phrases the operator never wants posted, matched by whole words, any case."""

    phrases: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> Blocklist:
        phrases = {tuple(words(entry)) for entry in entries}
        return cls(tuple(sorted(phrase for phrase in phrases if phrase)))

    @classmethod
    def load(cls, path: Path | None = None, extra: Iterable[str] = ()) -> Blocklist:
        """PATH (default TWEETLING_HOME/blocklist.txt, when present): one word or phrase a line,
        # starts a comment; plus EXTRA entries."""
        path = path or paths.home() / BLOCKLIST_FILE
        entries = list(extra)
        if path.exists():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as error:
                raise InputError(str(path), f"not UTF-8 text ({error.reason})") from None
            entries += [line.split("#", 1)[0] for line in lines]
        elif path != paths.home() / BLOCKLIST_FILE:
            raise InputError(str(path), "no such blocklist file")
        return cls.of(entries)

    def match(self, text: str) -> str | None:
        """The first blocked word or phrase TEXT contains, or None."""
        tokens = words(text)
        for phrase in self.phrases:
            n = len(phrase)
            if any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1)):
                return " ".join(phrase)
        return None
