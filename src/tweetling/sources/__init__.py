"""Where posts come from: one module per source, each yields Post.

The helpers here read the field values every source meets: dates in the formats exports use,
and flags spelled as booleans, strings or empty containers.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

# The X API v1.1 and archive format: "Wed Oct 10 20:19:24 +0000 2018".
_X_DATE = "%a %b %d %H:%M:%S %z %Y"
_UTC_SUFFIX = re.compile(r"\s*(?:Z|UTC|GMT)$", re.IGNORECASE)
_OFFSET = re.compile(r"\s*([+-]\d\d):?(\d\d)$")
_NOT_SET = {"", "0", "false", "none", "null", "nan", "[]", "{}"}


def parse_date(value: Any) -> str:
    """Return VALUE as ISO 8601 in UTC; naive times are taken as UTC. Raise ValueError if unknown.

    Accepts ISO 8601 ("2018-10-10T20:19:24Z", "2015-11-25 18:29:09", "... +0200", "... UTC"),
    the X format ("Wed Oct 10 20:19:24 +0000 2018") and Unix times in seconds or milliseconds.
    """
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        seconds = float(text) / (1000 if float(text) > 1e11 else 1)
        moment = datetime.fromtimestamp(seconds, timezone.utc)
    else:
        try:
            moment = datetime.strptime(text, _X_DATE)
        except ValueError:
            iso = _UTC_SUFFIX.sub("+00:00", text)
            iso = _OFFSET.sub(r"\1:\2", iso)  # "+0200" and " +02:00" for Python 3.10
            moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def is_set(value: Any) -> bool:
    """Whether a flag or reference field is present: True, "True", "123", [..] but not "", "[]", "False"."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, list, dict)):
        return bool(value)
    return str(value).strip().lower() not in _NOT_SET
