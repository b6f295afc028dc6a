"""Our own NDJSON (another machine's log, an export): merged by event id.

The events keep their ids, sequence numbers and timestamps, so importing the
same file twice, or the logs of several machines, adds each event once.
"""

from __future__ import annotations

from typing import Any

from ..errors import CodexError
from ..events import Event
from .base import Parser, Skip


class NdjsonParser(Parser):
    format = "ndjson"

    def feed(self, lineno: int, record: Any) -> list[Event]:
        try:
            event = Event.from_record(record)
        except CodexError as exc:
            raise Skip("invalid event", str(exc)) from None
        self.state.setdefault("sid", event.session_id)
        self.session(event.session_id)
        return [event]
