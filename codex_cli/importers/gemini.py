"""Gemini CLI sessions (``~/.gemini/tmp/<project hash>/chats/session-*.jsonl``) and checkpoints.

Three shapes, all read by content:

- **JSON lines** (Gemini CLI >= 0.39, ``chatRecordingService.ts`` since
  April 2026): a metadata line (``sessionId``, ``projectHash``, ...), then one
  line per message *version*: the last message is appended again each time
  it changes (tokens, tool calls, their results), ``{"$set": {...}}`` lines
  update the metadata and ``{"$rewindTo": id}`` lines rewind. Sub-agents
  write ``chats/<parent session id>/<session id>.jsonl``.
- **One JSON document** (Gemini CLI 0.1.21 - 0.38): ``session-*.json`` holding
  the metadata and a ``messages`` list, rewritten whole on every change.
- **Checkpoints**: ``/chat save <tag>`` writes ``checkpoint-<tag>.json`` (a
  list of API ``Content`` objects, or ``{"history": [...]}``); restore points
  under ``checkpoints/`` hold ``clientHistory``. Each is a session of its own.

A message becomes: its thoughts (``reasoning``), its text, and per tool call
a ``tool_call`` and, once the call has finished, a ``tool_result``. Only the
newest message ever changes, so the parser remembers which of its pieces it
has written: a later version adds the new pieces, and its usage is counted
once, on the first piece written after the usage appeared.

Tokens (``TokensSummary``, from the API's ``usageMetadata``): ``input`` is
``promptTokenCount``, which includes ``cached``; ``tool`` (tool-use prompt)
is input too; ``thoughts`` are billed as output. So ``input_tokens = input +
tool``, ``cached_input_tokens = cached``, ``output_tokens = output +
thoughts``, ``reasoning_tokens = thoughts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import CodexError
from ..events import Event, format_ts
from ..redact import redact_text
from .base import (
    Parser,
    Problem,
    Skip,
    Undetected,
    count,
    make_event,
    read_lines,
    safe_session_id,
    timestamp,
    whole_file_problems,
)
from .sniff import same_head

FINISHED = {"success", "error", "cancelled"}
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024


def is_side_file(path: Path) -> bool:
    """A file Gemini CLI keeps in a project's ``tmp/<hash>/`` that is not a session.

    ``shell_history`` (the shell commands typed, plain text) sits beside
    ``chats/``, ``logs.json`` and the checkpoints.
    """
    return path.name == "shell_history" and path.parent.parent.name == "tmp"


class GeminiParser(Parser):
    format = "gemini"
    reads_file = True

    def read(self) -> Iterator[Event | Problem]:
        """The events of what is new in the file since the last import."""
        size = self.path.stat().st_size
        with open(self.path, "rb") as handle:
            first = handle.readline().lstrip(b"\xef\xbb\xbf")
        try:
            head = json.loads(first) if first.strip() else None
        except ValueError:
            head = None
        # JSON lines: a whole object on the first line (a document starts "{\n")
        if (isinstance(head, dict) and first.endswith(b"\n")) or self.state.get(
            "jsonl"
        ):
            self.state["jsonl"] = True
            yield from self._read_lines(size)
        else:
            yield from self._read_document(size)

    # -- JSON lines -------------------------------------------------------

    def _read_lines(self, size: int) -> Iterator[Event | Problem]:
        start, lines = self.state.get("offset", 0), self.state.get("lines", 0)
        if size < start or not same_head(self.path, self.state, size):
            # rewritten (the CLI's clean copy of a session it could not reload):
            # read it again; ids are stable, so nothing is added twice
            start, lines = 0, 0
        name = str(self.path)
        # The newest message is written again as it grows: within one read,
        # only its last version is used.
        held: tuple[int, dict[str, Any]] | None = None
        for line, offset in read_lines(self.path, start, lines, size):
            if offset != self.state.get("offset"):
                self.state["offset"], self.state["lines"] = offset, line.number
            if line.problem is not None:
                yield line.problem
                continue
            record = line.record
            if record is None:
                continue
            if _is_message(record):
                if held is not None and held[1]["id"] != record["id"]:
                    yield from self._guarded(name, *held)
                held = (line.number, record)
                continue
            yield from self._guarded(name, line.number, record)
        if held is not None:
            yield from self._guarded(name, *held)

    def _guarded(
        self, name: str, lineno: int, record: Any
    ) -> Iterator[Event | Problem]:
        try:
            yield from _checked(self._record, record)
        except Skip as exc:
            yield Problem(name, lineno, exc.reason, exc.detail)
        except CodexError as exc:
            yield Problem(name, lineno, "invalid event", str(exc))

    def _record(self, record: Any) -> list[Event]:
        record = self.require_object(record)
        if "$rewindTo" in record:
            # The CLI hides the rewound messages; they happened and were paid for.
            return self.ignore("$rewindTo")
        if isinstance(record.get("$set"), dict):
            update = record["$set"]
            self._metadata({k: v for k, v in update.items() if k != "messages"})
            if "messages" in update:
                # A copy of the history (masked or compressed): its real
                # messages were written on their own lines already.
                self.ignore("$set messages")
            return self.ignore("$set")
        if "sessionId" in record and "projectHash" in record:
            events = self._metadata(record)
            for message in record.get("messages") or []:
                events += self._message(message)
            return events
        if isinstance(record.get("id"), str) and isinstance(record.get("type"), str):
            return self._message(record)
        raise Skip("unknown shape", "not a Gemini CLI session line")

    # -- one JSON document -------------------------------------------------

    def _read_document(self, size: int) -> Iterator[Event | Problem]:
        if size > MAX_DOCUMENT_BYTES:
            raise Undetected(
                "file too large", None, f"{size} bytes in one JSON document"
            )
        raw = self.path.read_bytes()
        try:
            document = json.loads(raw)
        except UnicodeDecodeError as exc:
            raise Undetected("not UTF-8", None, exc.reason) from None
        except ValueError as exc:
            # Written whole by the CLI: a bad document is one being written.
            raise Undetected("truncated JSON", None, str(exc)) from None
        name = str(self.path)
        with whole_file_problems():
            if isinstance(document, dict) and "sessionId" in document:
                yield from self._metadata(document)
                messages = document.get("messages")
                if not isinstance(messages, list):
                    raise Skip("unknown shape", "messages is not a list")
                for i, message in enumerate(messages):
                    try:
                        yield from _checked(self._message, message)
                    except Skip as exc:
                        yield Problem(
                            name, None, exc.reason, f"message {i}: {exc.detail}"
                        )
                return
            if isinstance(document, list) and all(
                isinstance(item, dict) and "messageId" in item for item in document
            ):
                self.ignore("logs.json prompt")  # the sessions hold these prompts
                return
            history = _checkpoint_history(document)
            if history is None:
                raise Skip("unknown shape", "not a Gemini CLI session or checkpoint")
            yield from _checked(lambda h: list(self._checkpoint(document, h)), history)

    # -- sessions ----------------------------------------------------------

    def _metadata(self, meta: dict[str, Any]) -> list[Event]:
        if isinstance(meta.get("summary"), str) and meta["summary"].strip():
            self.state["summary"] = redact_text(meta["summary"].strip())[:200]
        if meta.get("kind") == "subagent":
            self.state["parent"] = safe_session_id(self.path.parent.name, "gemini")
        if "sessionId" not in meta or "sid" in self.state:
            return []
        sid = self.state["sid"] = safe_session_id(meta["sessionId"], "gemini")
        root = _project_root(self.path)
        if root:
            self.state["cwd"] = root
        start = timestamp(meta.get("startTime"), self._mtime())
        self.state["ts0"] = start
        data = {
            k: meta[k] for k in ("projectHash", "kind", "directories") if meta.get(k)
        }
        return [
            make_event(
                sid,
                "meta",
                start,
                "system",
                "Gemini CLI session",
                kind="meta",
                data=data,
            )
        ]

    def _message(self, message: Any) -> list[Event]:
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise Skip("unknown shape", "a message without an id")
        sid = self.state.get("sid")
        if sid is None:
            sid = self.state["sid"] = safe_session_id(self.path.stem, "gemini")
        mid = message["id"]
        ts = timestamp(message.get("timestamp"), self.state.get("ts0") or self._mtime())
        self.state.setdefault("ts0", ts)
        pieces = self._pieces(message, ts)
        pending = self.state.get("pending") or {}
        same = pending.get("id") == mid
        done = set(pending.get("done", [])) if same else set()
        tokens_done = bool(pending.get("tok")) if same else False
        new = [p for p in pieces if p[0] not in done]
        tokens = (
            _tokens(message.get("tokens")) if message.get("type") == "gemini" else {}
        )
        model = message.get("model") if isinstance(message.get("model"), str) else None
        if tokens and not tokens_done:
            if not new:  # usage recorded after every piece was written
                new.append(
                    (
                        "usage",
                        ts,
                        "assistant",
                        "",
                        {"kind": "meta", "data": {"type": "usage"}},
                    )
                )
            new[0] = (*new[0][:4], {**new[0][4], **tokens})
            tokens_done = True
        self.state["pending"] = {
            "id": mid,
            "done": sorted(done | {p[0] for p in new}),
            "tok": tokens_done,
        }
        if model:
            self.state["model"] = model
        events = []
        for key, when, role, content, fields in new:
            if role == "assistant" and model:
                fields = {"model": model, **fields}
            events.append(
                make_event(sid, f"{mid}:{key}", when, role, content, **fields)
            )
        return events

    def _pieces(
        self, message: dict[str, Any], ts: str
    ) -> list[tuple[str, str, str, str, dict[str, Any]]]:
        kind = message.get("type")
        text = _parts_text(message.get("content"))
        if kind == "user":
            if text.strip() and "title" not in self.state:
                self.state["title"] = redact_text(text.strip())[:200]
            return [("text", ts, "user", text, {})] if text else []
        if kind in ("info", "error", "warning"):
            return [
                ("text", ts, "system", text, {"kind": "meta", "data": {"type": kind}})
            ]
        if kind != "gemini":
            self.ignore(f"message {kind}")
            return []
        pieces: list[tuple[str, str, str, str, dict[str, Any]]] = []
        for i, thought in enumerate(message.get("thoughts") or []):
            if not isinstance(thought, dict):
                continue
            subject, description = thought.get("subject"), thought.get("description")
            body = "\n".join(
                s for s in (subject, description) if isinstance(s, str) and s
            )
            if body:
                when = timestamp(thought.get("timestamp"), ts)
                pieces.append(
                    (f"thought:{i}", when, "assistant", body, {"kind": "reasoning"})
                )
        if text:
            pieces.append(("text", ts, "assistant", text, {}))
        for call in message.get("toolCalls") or []:
            if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                continue
            cid = call["id"]
            name = call.get("name") if isinstance(call.get("name"), str) else None
            when = timestamp(call.get("timestamp"), ts)
            args = json.dumps(call.get("args"), ensure_ascii=False)
            pieces.append(
                (
                    f"call:{cid}",
                    when,
                    "assistant",
                    args,
                    {"kind": "tool_call", "tool_name": name, "tool_call_id": cid},
                )
            )
            status = call.get("status")
            if status in FINISHED or call.get("result") is not None:
                data: dict[str, Any] = (
                    {"status": status} if isinstance(status, str) else {}
                )
                if status == "error":
                    data["is_error"] = True
                pieces.append(
                    (
                        f"result:{cid}",
                        when,
                        "tool",
                        _result_text(call),
                        {
                            "kind": "tool_result",
                            "tool_name": name,
                            "tool_call_id": cid,
                            "data": data,
                        },
                    )
                )
        return pieces

    # -- checkpoints ---------------------------------------------------------

    def _checkpoint(self, document: Any, history: list[Any]) -> Iterator[Event]:
        where = f"{self.path.parent.name}/{self.path.name}"
        sid = self.state.setdefault(
            "sid", safe_session_id(f"checkpoint:{where}", "gemini-checkpoint")
        )
        # Contents carry no time: the file's first-seen time, kept, so ids stay put.
        ts = self.state.setdefault("ts0", self._mtime())
        tag = self.path.stem.removeprefix("checkpoint-")
        self.state["title"] = f"Gemini CLI checkpoint {tag}"
        if isinstance(document, dict) and isinstance(document.get("toolCall"), dict):
            tool = document["toolCall"].get("name")
            self.state["title"] = f"Gemini CLI restore point before {tool}"
        calls: dict[str, str] = {}
        for i, content in enumerate(history):
            if not isinstance(content, dict) or not isinstance(
                content.get("parts"), list
            ):
                self.ignore("checkpoint entry without parts")
                continue
            role = "user" if content.get("role") == "user" else "assistant"
            for j, part in enumerate(content["parts"]):
                if not isinstance(part, dict):
                    continue
                key = f"{i}:{j}"
                if isinstance(part.get("functionCall"), dict):
                    call = part["functionCall"]
                    name = (
                        call.get("name") if isinstance(call.get("name"), str) else None
                    )
                    cid = (
                        call.get("id")
                        if isinstance(call.get("id"), str)
                        else f"{i}:{j}"
                    )
                    calls[name or ""] = cid
                    yield make_event(
                        sid,
                        key,
                        ts,
                        "assistant",
                        json.dumps(call.get("args"), ensure_ascii=False),
                        kind="tool_call",
                        tool_name=name,
                        tool_call_id=cid,
                    )
                elif isinstance(part.get("functionResponse"), dict):
                    response = part["functionResponse"]
                    name = (
                        response.get("name")
                        if isinstance(response.get("name"), str)
                        else None
                    )
                    cid = (
                        response.get("id")
                        if isinstance(response.get("id"), str)
                        else calls.pop(name or "", None)
                    )
                    yield make_event(
                        sid,
                        key,
                        ts,
                        "tool",
                        _response_text(response.get("response")),
                        kind="tool_result",
                        tool_name=name,
                        tool_call_id=cid,
                    )
                elif isinstance(part.get("text"), str) and part["text"]:
                    kind = "reasoning" if part.get("thought") is True else "message"
                    yield make_event(sid, key, ts, role, part["text"], kind=kind)
                else:
                    self.ignore("checkpoint part without text")

    # -- what the session gets ---------------------------------------------

    def _mtime(self) -> str:
        return format_ts(datetime.fromtimestamp(self.path.stat().st_mtime, UTC))

    def session_updates(self) -> dict[str, dict[str, Any]]:
        sid = self.state.get("sid")
        if sid is None:
            return {}
        values = {
            "title": self.state.get("summary") or self.state.get("title"),
            "model": self.state.get("model"),
            "parent_session_id": self.state.get("parent"),
            "cwd": self.state.get("cwd"),
        }
        return {sid: {k: v for k, v in values.items() if v}}


def _project_root(path: Path) -> str | None:
    """The project a session belongs to: newer CLIs name it in ``<tmp>/<project>/.project_root``."""
    for folder in path.parents[1:4]:  # chats/, chats/<parent>/ (sub-agents)
        marker = folder / ".project_root"
        try:
            if marker.is_file() and marker.stat().st_size < 4096:
                root = marker.read_text(encoding="utf-8").strip()
                return root or None
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _tokens(summary: Any) -> dict[str, int]:
    if not isinstance(summary, dict):
        return {}
    prompt, tool, cached, output, thoughts = (
        count(summary.get(k)) for k in ("input", "tool", "cached", "output", "thoughts")
    )
    if not (prompt or tool or output or thoughts):
        return {}
    return {
        "input_tokens": prompt + tool,
        "cached_input_tokens": cached,
        "output_tokens": output + thoughts,
        "reasoning_tokens": thoughts,
    }


def _parts_text(content: Any) -> str:
    """Text of a ``PartListUnion``: a string, a part, or a list of either."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return json.dumps(content, ensure_ascii=False)
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part.get("inlineData"), dict):
                texts.append(f"[{part['inlineData'].get('mimeType', 'inline data')}]")
            elif isinstance(part.get("fileData"), dict):
                texts.append(f"[file {part['fileData'].get('fileUri', '')}]")
    return "\n".join(texts)


def _result_text(call: dict[str, Any]) -> str:
    """A tool call's result as the model saw it (``functionResponse.response``)."""
    result = call.get("result")
    parts = (
        result
        if isinstance(result, list)
        else [result] if isinstance(result, dict) else []
    )
    texts = []
    for part in parts:
        if isinstance(part, dict) and isinstance(part.get("functionResponse"), dict):
            texts.append(_response_text(part["functionResponse"].get("response")))
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    if texts:
        return "\n".join(texts)
    if isinstance(result, str):
        return result
    display = call.get("resultDisplay")
    if isinstance(display, str):
        return display
    return "" if result is None else json.dumps(result, ensure_ascii=False)


def _response_text(response: Any) -> str:
    if isinstance(response, dict):
        for key in ("output", "error", "content"):
            if isinstance(response.get(key), str):
                return response[key]
    if isinstance(response, str):
        return response
    return json.dumps(response, ensure_ascii=False) if response is not None else ""


def _checkpoint_history(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("clientHistory", "history"):
            value = document.get(key)
            if isinstance(value, list) and all(
                isinstance(c, dict) and "parts" in c for c in value
            ):
                return value
    return None


def _is_message(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("id"), str)
        and isinstance(record.get("type"), str)
        and "projectHash" not in record
    )


def _checked(handle: Any, record: Any) -> list[Event]:
    """``handle(record)``, with a field of an unexpected type as :class:`Skip`."""
    try:
        events: list[Event] = handle(record)
    except (TypeError, AttributeError, ValueError, KeyError) as exc:
        raise Skip("unknown shape", f"{type(exc).__name__}: {exc}") from None
    return events
