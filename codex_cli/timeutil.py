"""Parsing the dates and durations users type (``--since``, ``--older-than``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import InvalidDate
from .events import format_ts

_DURATION = re.compile(r"(\d+)\s*(s|m|h|d|w)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str, option: str = "duration") -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` (and ``1d12h``) as a timedelta."""
    text = value.strip().lower()
    if not text or not re.fullmatch(rf"(?:{_DURATION.pattern})+", text):
        raise InvalidDate(
            f"invalid {option} {value!r}: expected a number and a unit, such as 30d, 12h, 2w"
        )
    total = timedelta()
    for amount, unit in _DURATION.findall(text):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    return total


def parse_when(value: str, option: str = "date", now: datetime | None = None) -> str:
    """A point in time as our timestamp text.

    Accepts an ISO-8601 date or date-time (UTC unless it says otherwise) or
    a duration meaning "that long ago" (``7d``).
    """
    text = value.strip()
    now = now or datetime.now(UTC)
    if _DURATION.fullmatch(text.lower()) or re.fullmatch(
        rf"(?:{_DURATION.pattern})+", text.lower()
    ):
        return format_ts(now - parse_duration(text, option))
    try:
        parsed = datetime.fromisoformat(
            text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        )
    except ValueError:
        raise InvalidDate(
            f"invalid {option} {value!r}: expected a date such as 2026-01-31, "
            "a time such as 2026-01-31T12:00:00Z, or an age such as 7d"
        ) from None
    return format_ts(parsed)
