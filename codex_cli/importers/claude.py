"""Claude Code transcripts (``~/.claude/projects/<project>/<sessionId>.jsonl``).

Each line of type ``user``, ``assistant`` or ``system`` becomes one event per
content block. One API response is streamed as several lines sharing
``message.id`` and ``requestId`` that repeat the same usage: it is counted
once, on the first event of the response.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..events import Event
from ..redact import redact_text
from .base import Parser, Skip, count, make_event, safe_session_id, text_of, timestamp

SYNTHETIC_MODEL = "<synthetic>"
TRANSCRIPT_TYPES = {"user", "assistant", "system"}


class ClaudeParser(Parser):
    format = "claude"

    def feed(self, lineno: int, record: Any) -> list[Event]:
        record = self.require_object(record)
        kind = record.get("type")
        if kind == "summary":
            if isinstance(record.get("summary"), str) and record["summary"].strip():
                self.state["title"] = redact_text(record["summary"].strip())[:200]
            return self.ignore("summary")
        if kind not in TRANSCRIPT_TYPES:
            if isinstance(kind, str) and "payload" not in record:
                return self.ignore(kind)
            raise Skip("unknown shape", "not a Claude Code transcript line")
        if "sessionId" not in record:
            raise Skip("unknown shape", f"a {kind} line without sessionId")
        sid = safe_session_id(record["sessionId"], "claude")
        self.state.setdefault("sid", sid)
        info = self.session(sid)
        info.merge({"cwd": record.get("cwd"), "git_branch": record.get("gitBranch")})
        ts = timestamp(record.get("timestamp"))
        uuid = record.get("uuid")
        key = uuid if isinstance(uuid, str) else f"line{lineno}"
        base: dict[str, Any] = {}
        if record.get("isSidechain"):
            base["sidechain"] = True
        if kind == "system":
            content = text_of(record.get("content"))
            if not content:
                return self.ignore("system without content")
            data = {
                **base,
                **({"subtype": record["subtype"]} if record.get("subtype") else {}),
            }
            return [
                make_event(
                    sid, f"{key}:0", ts, "system", content, kind="meta", data=data
                )
            ]
        message = record.get("message")
        if not isinstance(message, dict):
            raise Skip("unknown shape", f"a {kind} line without a message object")
        if kind == "user":
            return self._user(sid, key, ts, message, base)
        return self._assistant(sid, key, ts, record, message, base, info)

    def _user(
        self, sid: str, key: str, ts: str, message: dict[str, Any], base: dict[str, Any]
    ) -> list[Event]:
        content = message.get("content")
        if isinstance(content, str):
            return [make_event(sid, f"{key}:0", ts, "user", content, data=dict(base))]
        events = []
        for i, btype, block in _blocks(content):
            if btype == "tool_result":
                call_id = block.get("tool_use_id")
                call_id = call_id if isinstance(call_id, str) else None
                name = (
                    self.state.get("calls", {}).pop(call_id, None) if call_id else None
                )
                data = dict(base)
                if "is_error" in block:
                    data["is_error"] = bool(block["is_error"])
                events.append(
                    make_event(
                        sid,
                        f"{key}:{i}",
                        ts,
                        "tool",
                        text_of(block.get("content")),
                        kind="tool_result",
                        tool_name=name,
                        tool_call_id=call_id,
                        data=data,
                    )
                )
            elif btype in ("text", "image"):
                events.append(
                    make_event(
                        sid, f"{key}:{i}", ts, "user", text_of([block]), data=dict(base)
                    )
                )
            else:
                self.ignore(f"user block {btype}")
        return events

    def _assistant(
        self,
        sid: str,
        key: str,
        ts: str,
        record: dict[str, Any],
        message: dict[str, Any],
        base: dict[str, Any],
        info: Any,
    ) -> list[Event]:
        model = message.get("model") if isinstance(message.get("model"), str) else None
        if model == SYNTHETIC_MODEL:
            model = None
            base = {**base, "synthetic": True}
        if model:
            info.model = model
        tokens = self._usage(record, message) if model else {}
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        events = []
        for i, btype, block in _blocks(content):
            fields: dict[str, Any] = {}
            if btype == "text":
                kind, text = "message", text_of([block])
            elif btype == "thinking":
                kind, text = "reasoning", block.get("thinking") or ""
            elif btype in ("tool_use", "server_tool_use"):
                kind = "tool_call"
                text = json.dumps(block.get("input"), ensure_ascii=False)
                name = block.get("name") if isinstance(block.get("name"), str) else None
                call_id = block.get("id") if isinstance(block.get("id"), str) else None
                if call_id and name:
                    self.state.setdefault("calls", {})[call_id] = name
                fields = {"tool_name": name, "tool_call_id": call_id}
            else:
                self.ignore(f"assistant block {btype}")
                continue
            if not isinstance(text, str):
                text = text_of(text)
            events.append(
                make_event(
                    sid,
                    f"{key}:{i}",
                    ts,
                    "assistant",
                    text,
                    kind=kind,
                    model=model,
                    data=dict(base),
                    **fields,
                    **tokens,
                )
            )
            tokens = {}  # a response's usage goes on its first event only
        return events

    def _usage(self, record: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return {}
        counted_key = f"{message.get('id')}|{record.get('requestId')}"
        counted = self.state.setdefault("usage", {})
        if counted_key in counted:
            return {}
        counted[counted_key] = 1
        fresh, created, read, out = (
            count(usage.get(name))
            for name in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
            )
        )
        return {
            "input_tokens": fresh + created + read,
            "cached_input_tokens": read,
            "output_tokens": out,
        }

    def session_updates(self) -> dict[str, dict[str, Any]]:
        updates = super().session_updates()
        sid, title = self.state.get("sid"), self.state.get("title")
        if sid and title:
            updates.setdefault(sid, {})["title"] = title
        return updates


def _blocks(content: Any) -> Iterator[tuple[int, Any, dict[str, Any]]]:
    """``(index, type, block)`` of a message's content blocks."""
    if not isinstance(content, list):
        raise Skip("unknown shape", "message.content is neither text nor a list")
    for i, block in enumerate(content):
        if isinstance(block, dict):
            yield i, block.get("type"), block
