"""Whether an account lets its posts be fetched: the opt-out signals a profile can carry.

A profile opts out with the hashtags #nobot, #noai or #nollm in its display name, bio or
profile fields (in any case, and in any Unicode form of those letters, e.g. full-width), or
with a flag of its service (Mastodon `noindex: true` or `discoverable: false`, Bluesky's
`!no-unauthenticated` self-label). Only those whole tags count: #nobots, #noaiart and
#no_bot are other tags, and "nobot" without its # is a word. The account's owner may fetch
anyway (`--i-am-the-account-owner`, or the account's own token), and that is recorded.
Archive imports are the owner's own export and are not checked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import SourceError

OPT_OUT_TAGS = ("nobot", "noai", "nollm")
# A tag starts after a non-word character and ends before one, as hashtags do on Mastodon.
_OPT_OUT_TAG = re.compile(r"(?<!\w)#(" + "|".join(OPT_OUT_TAGS) + r")(?!\w)")

OWNER_FLAG = "--i-am-the-account-owner"
OWNER_TOKEN = "the account's own token"


def opt_out_tags(text: object) -> list[str]:
    """The opt-out hashtags TEXT carries, each once, in the order they first appear (none when
    TEXT is no string: a field of the wrong shape in a server's reply).

    Compatibility-normalized (NFKC: full-width and styled letters become plain ones) and
    case-folded before matching, so #NoBot, #ＮＯＢＯＴ and #𝐧𝐨𝐛𝐨𝐭 all count.
    """
    if not isinstance(text, str) or not text:
        return []
    folded = unicodedata.normalize("NFKC", text).casefold()
    return list(dict.fromkeys(match.group(1) for match in _OPT_OUT_TAG.finditer(folded)))


def tag_signals(texts: Iterable[tuple[str, object]]) -> list[str]:
    """'#nobot in the bio' for each opt-out tag in each (where, text) pair of a profile, each once."""
    return list(dict.fromkeys(f"#{tag} in {where}" for where, text in texts for tag in opt_out_tags(text)))


@dataclass(frozen=True)
class ConsentCheck:
    """What the opt-out check of one fetch found, and when."""

    checked_at: str  # ISO 8601, UTC
    opt_outs: tuple[str, ...] = ()  # the signals found, e.g. "#nobot in the bio", "discoverable: false"
    owner: str | None = None  # how the fetcher stood as the account's owner: OWNER_FLAG, OWNER_TOKEN or None

    @property
    def allowed(self) -> bool:
        return not self.opt_outs or self.owner is not None


class OptedOutError(SourceError):
    """The account opts out of bots and AI training; nothing was fetched."""


def check(opt_outs: Iterable[str], owner: str | None = None) -> ConsentCheck:
    """The check of a profile that carries the signals OPT_OUTS, fetched by OWNER (or not)."""
    return ConsentCheck(datetime.now(timezone.utc).isoformat(timespec="seconds"), tuple(opt_outs), owner)


def refusal(who: str, found: ConsentCheck, stored_posts: int, account: str) -> OptedOutError:
    """The one-line error for an account that opts out: what it carries and what the user can do."""
    message = (
        f"{who} opts out of bots and AI training ({'; '.join(found.opt_outs)}): not fetching."
        f" If it is your account, pass {OWNER_FLAG}"
    )
    if stored_posts:
        message += f"; the {stored_posts:,} posts fetched earlier are still stored: `tweetling forget {account}`"
    return OptedOutError(message + ".")
