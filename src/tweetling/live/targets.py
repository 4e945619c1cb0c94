"""The accounts a bot posts from, written SERVICE:HANDLE as the sources fetch them:
mastodon:@bot@instance.social, bluesky:bot.bsky.social, x:botname."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TweetlingError
from ..sources import bluesky, mastodon, x_api

SERVICES = ("mastodon", "bluesky", "x")
BLUESKY_PDS = "https://bsky.social"  # the entryway that routes each account to its PDS
X_API = "https://api.x.com/2"


@dataclass(frozen=True)
class Target:
    service: str  # "mastodon", "bluesky" or "x"
    handle: str  # "bot@instance.social", "bot.bsky.social" or "botname", lower case

    @property
    def key(self) -> str:
        """The one spelling of the account, used in the store and the credentials file."""
        return f"mastodon:@{self.handle}" if self.service == "mastodon" else f"{self.service}:{self.handle}"

    @property
    def user(self) -> str:
        """The account's name on its service: the Mastodon username without the instance."""
        return self.handle.split("@")[0] if self.service == "mastodon" else self.handle

    def default_base_url(self) -> str:
        if self.service == "mastodon":
            return f"https://{self.handle.split('@')[1]}"
        return BLUESKY_PDS if self.service == "bluesky" else X_API

    def __str__(self) -> str:
        return self.key


def parse_target(text: str) -> Target:
    """'mastodon:@bot@botsin.space' -> Target('mastodon', 'bot@botsin.space')."""
    service, sep, handle = text.strip().partition(":")
    service = service.lower()
    if not sep or service not in SERVICES or not handle.strip():
        raise TweetlingError(
            f"invalid account {text!r}: use mastodon:@bot@instance.social, bluesky:bot.bsky.social or x:botname"
        )
    if service == "mastodon":
        user, instance = mastodon.split_handle(handle)
        return Target(service, f"{user.lower()}@{instance}")
    if service == "bluesky":
        return Target(service, bluesky.account_name(handle))
    return Target(service, x_api.account_name(handle).lower())
