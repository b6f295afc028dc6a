"""OpenAI Codex CLI rollout files (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``).

The transcript is built from ``response_item`` lines; the ``event_msg``
copies of the same messages are not imported twice. Both the envelope
layout (``{"timestamp", "type", "payload"}``) and the very old one (a bare
meta object first, then bare items and ``{"record_type": "state"}`` lines)
are read.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..events import Event
from ..redact import redact_text
from .base import Parser, Skip, count, make_event, safe_session_id, text_of, timestamp

ROLES = {
    "user": "user",
    "assistant": "assistant",
    "developer": "system",
    "system": "system",
}
CALL_TYPES = {
    "function_call",
    "custom_tool_call",
    "local_shell_call",
    "web_search_call",
}
OUTPUT_TYPES = {
    "function_call_output",
    "custom_tool_call_output",
    "local_shell_call_output",
}
ITEM_TYPES = {"message", "reasoning", *CALL_TYPES, *OUTPUT_TYPES}
# Messages the CLI injects before the user's prompt: not a title.
CONTEXT_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md",
    "<INSTRUCTIONS>",
)
PLAIN_OUTPUT = re.compile(
    r"Exit code: (?P<code>-?\d+)\s*\nWall time: (?P<secs>[\d.]+) seconds?\s*\n"
    r"(?:Total output lines: \d+\s*\n)?Output:\n(?P<out>.*)",
    re.DOTALL,
)
UUID_IN_NAME = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


class CodexParser(Parser):
    format = "codex"

    def feed(self, lineno: int, record: Any) -> list[Event]:
        record = self.require_object(record)
        kind = record.get("type")
        if "payload" in record and isinstance(kind, str):
            payload = record["payload"]
            if not isinstance(payload, dict):
                raise Skip("unknown shape", "payload is not an object")
            ts = record.get("timestamp")
            if kind == "session_meta":
                return self._meta(lineno, payload, ts)
            if kind == "turn_context":
                return self._turn_context(payload)
            if kind == "response_item":
                return self._item(lineno, payload, ts)
            if kind == "event_msg":
                return self._event_msg(lineno, payload, ts)
            if kind == "compacted":
                return [
                    self._event(
                        lineno,
                        ts,
                        "system",
                        text_of(payload.get("message")),
                        kind="meta",
                        data={"type": "compacted"},
                    )
                ]
            return self.ignore(kind)
        if "record_type" in record:
            return self.ignore(f"record_type {record['record_type']}")
        if kind is None and "id" in record and "timestamp" in record:
            return self._meta(lineno, record, record.get("timestamp"))
        if kind in ITEM_TYPES:
            return self._item(lineno, record, record.get("timestamp"))
        raise Skip("unknown shape", "not a Codex rollout line")

    # -- metadata lines ---------------------------------------------------

    def _meta(self, lineno: int, meta: dict[str, Any], ts: Any) -> list[Event]:
        if "sid" not in self.state:
            self.state["sid"] = safe_session_id(meta.get("id"), "codex")
        start = timestamp(meta.get("timestamp") or ts, self.state.get("ts0"))
        self.state.setdefault("ts0", start)
        git: dict[str, Any] = meta["git"] if isinstance(meta.get("git"), dict) else {}
        for key, value in (("cwd", meta.get("cwd")), ("branch", git.get("branch"))):
            if isinstance(value, str) and value:
                self.state[key] = value
        data = {
            key: meta[key]
            for key in (
                "cli_version",
                "originator",
                "source",
                "model_provider",
                "forked_from_id",
            )
            if meta.get(key) is not None
        }
        if git:
            data["git"] = git
        version = meta.get("cli_version")
        content = f"Codex CLI {version} session" if version else "Codex CLI session"
        if meta.get("cwd"):
            content += f" in {meta['cwd']}"
        self.state["cli_version"] = version
        return [self._event(lineno, start, "system", content, kind="meta", data=data)]

    def _turn_context(self, payload: dict[str, Any]) -> list[Event]:
        if isinstance(payload.get("model"), str):
            self.state["model"] = payload["model"]
        if isinstance(payload.get("cwd"), str):
            self.state["cwd"] = payload["cwd"]
        return self.ignore("turn_context")

    def _event_msg(self, lineno: int, payload: dict[str, Any], ts: Any) -> list[Event]:
        kind = payload.get("type")
        if kind == "token_count":
            info = payload.get("info")
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                self.state["tokens"] = [
                    count(total.get("input_tokens")),
                    count(total.get("cached_input_tokens")),
                    count(total.get("output_tokens")),
                ]
            return self.ignore("event_msg token_count")
        if kind == "turn_aborted":
            reason = payload.get("reason")
            return [
                self._event(
                    lineno,
                    ts,
                    "system",
                    f"Turn aborted: {reason}" if reason else "Turn aborted",
                    kind="meta",
                    data={"type": "turn_aborted"},
                )
            ]
        # user_message / agent_message / agent_reasoning repeat the response items.
        return self.ignore(f"event_msg {kind}")

    # -- transcript items -------------------------------------------------

    def _item(self, lineno: int, item: dict[str, Any], ts: Any) -> list[Event]:
        kind = item.get("type")
        if kind == "message":
            role = ROLES.get(item.get("role"))  # type: ignore[arg-type]
            if role is None:
                raise Skip("unknown role", repr(item.get("role")))
            content = text_of(item.get("content"))
            if (
                role == "user"
                and "title" not in self.state
                and content.strip()
                and not content.lstrip().startswith(CONTEXT_PREFIXES)
            ):
                self.state["title"] = redact_text(content.strip())[:200]
            model = self.state.get("model") if role == "assistant" else None
            return [self._event(lineno, ts, role, content, model=model)]
        if kind == "reasoning":
            summary = "\n\n".join(
                part.get("text", "")
                for part in item.get("summary") or []
                if isinstance(part, dict)
            ) or text_of(item.get("content"))
            if not summary:
                return self.ignore("reasoning without summary")
            return [
                self._event(
                    lineno,
                    ts,
                    "assistant",
                    summary,
                    kind="reasoning",
                    model=self.state.get("model"),
                )
            ]
        if kind in CALL_TYPES:
            return [self._call(lineno, item, ts)]
        if kind in OUTPUT_TYPES:
            return [self._output(lineno, item, ts)]
        return self.ignore(f"response_item {kind}")

    def _call(self, lineno: int, item: dict[str, Any], ts: Any) -> Event:
        kind = item["type"]
        call_id = item.get("call_id") or item.get("id")
        if kind == "function_call":
            name, content = item.get("name"), item.get("arguments")
        elif kind == "custom_tool_call":
            name, content = item.get("name"), item.get("input")
        elif kind == "local_shell_call":
            name, content = "local_shell", item.get("action")
        else:
            action = item.get("action")
            query = action.get("query") if isinstance(action, dict) else None
            name, content = "web_search", query or action
        if not isinstance(content, str):
            content = (
                json.dumps(content, ensure_ascii=False) if content is not None else ""
            )
        name = name if isinstance(name, str) else kind
        if isinstance(call_id, str):
            self.state.setdefault("calls", {})[call_id] = name
        data = {"status": item["status"]} if isinstance(item.get("status"), str) else {}
        return self._event(
            lineno,
            ts,
            "assistant",
            content,
            kind="tool_call",
            tool_name=name,
            tool_call_id=call_id if isinstance(call_id, str) else None,
            model=self.state.get("model"),
            data=data,
        )

    def _output(self, lineno: int, item: dict[str, Any], ts: Any) -> Event:
        call_id = item.get("call_id")
        name = (
            self.state.get("calls", {}).pop(call_id, None)
            if isinstance(call_id, str)
            else None
        )
        content, data = parse_output(item.get("output"))
        return self._event(
            lineno,
            ts,
            "tool",
            content,
            kind="tool_result",
            tool_name=name,
            tool_call_id=call_id if isinstance(call_id, str) else None,
            data=data,
        )

    def _event(
        self, lineno: int, ts: Any, role: str, content: str, **fields: Any
    ) -> Event:
        sid = self.state.get("sid")
        if sid is None:
            sid = self.state["sid"] = _fallback_id(self.path.name)
        when = timestamp(ts, self.state.get("ts0"))
        self.state.setdefault("ts0", when)
        return make_event(sid, str(lineno), when, role, content, **fields)

    # -- what the session gets ---------------------------------------------

    def tokens(self) -> tuple[int, int, int] | None:
        tokens = self.state.get("tokens")
        return (tokens[0], tokens[1], tokens[2]) if tokens else None

    def session_updates(self) -> dict[str, dict[str, Any]]:
        sid = self.state.get("sid")
        if sid is None:
            return {}
        values = {
            "title": self.state.get("title"),
            "cwd": self.state.get("cwd"),
            "git_branch": self.state.get("branch"),
            "model": self.state.get("model"),
        }
        return {sid: {k: v for k, v in values.items() if v}}


def parse_output(output: Any) -> tuple[str, dict[str, Any]]:
    """A tool output's text, and its exit code and duration when it states them."""
    data: dict[str, Any] = {}
    if isinstance(output, str) and output.startswith("{"):
        try:
            decoded = json.loads(output)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and "output" in decoded:
            output = decoded
    if isinstance(output, dict):
        meta: dict[str, Any] = (
            output["metadata"] if isinstance(output.get("metadata"), dict) else {}
        )
        for key in ("exit_code", "duration_seconds"):
            if meta.get(key) is not None:
                data[key] = meta[key]
        if isinstance(output.get("success"), bool):
            data["success"] = output["success"]
        return text_of(output.get("output", output.get("content"))), data
    text = text_of(output)
    match = PLAIN_OUTPUT.match(text)
    if match:
        data["exit_code"] = int(match["code"])
        data["duration_seconds"] = float(match["secs"])
        return match["out"], data
    return text, data


def _fallback_id(name: str) -> str:
    """A session id for a rollout without its meta line: the uuid in its name, else a hash."""
    match = UUID_IN_NAME.search(name)
    if match:
        return match.group(0)
    return "codex-" + hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
