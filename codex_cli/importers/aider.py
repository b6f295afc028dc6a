"""Aider's markdown history (``.aider.chat.history.md``, ``.aider.input.history``).

Opt-in: these live in each repository, so they are imported only when their
path is given (``codex log import path/to/repo/.aider.chat.history.md``).

The chat history is what ``aider/io.py`` (Aider 0.x up to 0.86) appends:

- ``# aider chat started at YYYY-MM-DD HH:MM:SS`` (local time) opens a run:
  each run is a session;
- ``#### text`` lines are the user's input (one message per group);
- ``> text`` lines are Aider's own output (the command line, ``Model: ...``,
  ``Applied edit to ...``, ``Tokens: 2.3k sent, 150 received. Cost: ...``):
  ``meta`` events;
- anything else is the model's reply.

The history has no per-message time, no tool calls (edits are part of the
reply) and only rounded token counts ("2.3k"): those are kept in the meta
event's ``data``, not counted as tokens. The model comes from the ``Model:``
or ``Main model:`` line. The input history (prompt_toolkit's ``FileHistory``:
``# <time>`` then ``+line`` lines) gives one user event per entry, all in
one session per file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..events import Event, format_ts
from ..redact import redact_text
from .base import Parser, Problem, Undetected, make_event
from .sniff import same_head

CHAT_START = re.compile(
    r"^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$"
)
INPUT_ENTRY = re.compile(r"^# (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s*$")
MODEL_LINE = re.compile(r"^(?:Main model|Model): (\S+)")
TOKENS_LINE = re.compile(r"^Tokens: (.*?)(?:\. Cost: (.*))?$")


class AiderParser(Parser):
    format = "aider"
    reads_file = True

    def read(self) -> Iterator[Event | Problem]:
        """The events of the runs (or input entries) new or grown since the last import."""
        size = self.path.stat().st_size
        start = self.state.get("offset", 0)
        if size < start or not same_head(self.path, self.state, size):
            start = 0  # rewritten: read again; ids are stable
        with open(self.path, "rb") as handle:
            handle.seek(start)
            raw = handle.read(size - start)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Undetected(
                "not UTF-8", None, f"{exc.reason} at byte {start + exc.start}"
            ) from None
        kind = self.state.get("kind")
        if kind is None:
            kind = self.state["kind"] = (
                "chat" if _has_chat_start(self.path) else "input"
            )
        if kind == "chat":
            yield from self._chat(text, start)
        else:
            yield from self._input(text, start)

    # -- the chat history -------------------------------------------------

    def _chat(self, text: str, base: int) -> Iterator[Event]:
        runs: list[tuple[int, str, list[str]]] = []  # (byte offset, started at, lines)
        offset = base
        for line in text.splitlines(keepends=True):
            match = CHAT_START.match(line.rstrip("\r\n"))
            if match:
                runs.append((offset, match.group(1), []))
            elif runs:
                runs[-1][2].append(line.rstrip("\r\n"))
            elif line.strip():
                self.ignore("text before the first run")
            offset += len(line.encode("utf-8"))
        for run_offset, started, lines in runs:
            self.state["offset"] = run_offset  # the last run may grow: read it again
            yield from self._run(run_offset, started, lines)

    def _run(self, run_offset: int, started: str, lines: list[str]) -> Iterator[Event]:
        where = f"{self.path.resolve()}:{run_offset}:{started}"
        sid = "aider-" + hashlib.blake2b(where.encode(), digest_size=8).hexdigest()
        ts = _local(started)
        self.state["sid"] = sid
        info = self.session(sid)
        blocks: list[tuple[str, list[str]]] = []
        fenced = (
            False  # inside a ``` block of a reply: ">>>>>>> REPLACE" is the reply's
        )
        for line in lines:
            quoted = line.startswith("> ") or line == ">"
            if fenced or not (line.startswith("####") or quoted):
                if line.lstrip().startswith("```"):
                    fenced = not fenced
                if not line.strip() and not fenced:
                    if blocks and blocks[-1][0] == "assistant":
                        blocks[-1][1].append("")
                    continue
                kind, body = "assistant", line
            elif line.startswith("####"):
                kind, body = "user", line[4:].removeprefix(" ")
            else:
                kind, body = "aider", line[2:]
            body = body[:-2] if body.endswith("  ") else body  # markdown line breaks
            if blocks and blocks[-1][0] == kind:
                blocks[-1][1].append(body)
            else:
                blocks.append((kind, [body]))
        yield make_event(
            sid,
            "start",
            ts,
            "system",
            f"aider chat started at {started}",
            kind="meta",
            data={"path": str(self.path)},
        )
        for i, (kind, body_lines) in enumerate(blocks):
            content = "\n".join(body_lines).strip("\n")
            if kind == "user":
                if content == "<blank>":
                    content = ""
                if content.strip() and not info.title:
                    info.title = redact_text(content.strip().splitlines()[0])[:200]
                yield make_event(sid, str(i), ts, "user", content)
            elif kind == "assistant":
                yield make_event(
                    sid, str(i), ts, "assistant", content, model=info.model
                )
            else:
                data: dict[str, Any] = {"type": "aider output"}
                for body in body_lines:
                    model = MODEL_LINE.match(body)
                    if model:
                        info.model = model.group(1)
                    tokens = TOKENS_LINE.match(body)
                    if tokens:
                        data["tokens_reported"] = tokens.group(1)
                        if tokens.group(2):
                            data["cost_reported"] = tokens.group(2)
                yield make_event(
                    sid, str(i), ts, "system", content, kind="meta", data=data
                )

    # -- the input history -------------------------------------------------

    def _input(self, text: str, base: int) -> Iterator[Event]:
        where = str(self.path.resolve())
        sid = self.state.setdefault(
            "sid",
            "aider-input-" + hashlib.blake2b(where.encode(), digest_size=8).hexdigest(),
        )
        info = self.session(sid)
        info.title = f"Aider input history of {self.path.parent.name or where}"
        offset = base
        entry: tuple[int, str, list[str]] | None = None
        entries = []
        for line in text.splitlines(keepends=True):
            stripped = line.rstrip("\r\n")
            match = INPUT_ENTRY.match(stripped)
            if match:
                entry = (offset, match.group(1), [])
                entries.append(entry)
            elif stripped.startswith("+") and entry is not None:
                entry[2].append(stripped[1:])
            elif stripped.strip():
                self.ignore("input history line without +")
            offset += len(line.encode("utf-8"))
        for entry_offset, when, body in entries:
            self.state["offset"] = entry_offset  # the last entry may grow
            yield make_event(
                sid,
                str(entry_offset),
                _local(when),
                "user",
                "\n".join(body),
                data={"source": "aider input history"},
            )


def _has_chat_start(path: Any) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(65536).decode("utf-8", "replace")
    return any(CHAT_START.match(line) for line in head.splitlines())


def _local(text: str) -> str:
    """Aider writes local time without a zone: read it as this machine's local time."""
    return format_ts(datetime.fromisoformat(text).astimezone())
