"""codex_cli: record, search, publish and learn from AI coding-agent sessions."""

from __future__ import annotations

from .events import Event
from .settings import Settings
from .store.writer import SessionLogger, log_event

__all__ = ["Event", "SessionLogger", "Settings", "log_event"]
__version__ = "0.1.0"
