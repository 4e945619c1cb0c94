"""Where an account's posts came from: the record the store keeps per way in, and the summary a
dataset, `tweetling.json` and the model card carry."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

FETCHED = "fetched"  # downloaded from a network source, after the opt-out check
ARCHIVE = "archive"  # the account owner's own export (an X archive)
FILE = "file"  # a CSV, JSONL or text file of posts
HOWS = (FETCHED, ARCHIVE, FILE)


@dataclass(frozen=True)
class Origin:
    """One way an account's posts reached the store (one per account, source and way)."""

    source: str  # x, mastodon, bluesky or file
    how: str  # one of HOWS
    host: str | None = None  # the server fetched from
    first_at: str | None = None  # the first fetch or import, ISO 8601 UTC
    last_at: str | None = None  # the latest one
    opt_out_checked_at: str | None = None  # when the latest fetch read the profile for opt-outs
    opt_outs: tuple[str, ...] = ()  # the opt-out signals that check found
    owner: str | None = None  # how the fetcher stood as the account's owner (consent.OWNER_FLAG, ...)
    deletions_checked_at: str | None = None  # the latest complete walk that looked for deleted posts

    def to_dict(self) -> dict[str, Any]:
        return {f.name: list(self.opt_outs) if f.name == "opt_outs" else getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Origin | None:
        """An origin as `to_dict` wrote it; None when DATA is not one (unknown keys are left out)."""
        if not isinstance(data, dict) or not isinstance(data.get("source"), str) or data.get("how") not in HOWS:
            return None

        def text(key: str) -> str | None:
            return data[key] if isinstance(data.get(key), str) else None

        opt_outs = data.get("opt_outs")
        return cls(
            source=data["source"],
            how=data["how"],
            host=text("host"),
            first_at=text("first_at"),
            last_at=text("last_at"),
            opt_out_checked_at=text("opt_out_checked_at"),
            opt_outs=tuple(s for s in opt_outs if isinstance(s, str)) if isinstance(opt_outs, list) else (),
            owner=text("owner"),
            deletions_checked_at=text("deletions_checked_at"),
        )


@dataclass(frozen=True)
class Provenance:
    """Where one account's posts in a dataset came from, and the dates they span."""

    origins: tuple[Origin, ...] = ()
    first_post: str | None = None  # created_at of the oldest post kept
    last_post: str | None = None  # ... and of the newest

    def to_dict(self) -> dict[str, Any]:
        return {
            "origins": [origin.to_dict() for origin in self.origins],
            "first_post": self.first_post,
            "last_post": self.last_post,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Provenance:
        """Provenance as `to_dict` wrote it; what is missing or of the wrong type is left empty."""
        data = data if isinstance(data, dict) else {}
        origins = data.get("origins") if isinstance(data.get("origins"), list) else []
        dates = {key: data.get(key) if isinstance(data.get(key), str) else None for key in ("first_post", "last_post")}
        return cls(tuple(o for o in map(Origin.from_dict, origins) if o is not None), **dates)
