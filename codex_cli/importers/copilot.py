"""GitHub Copilot CLI sessions (``~/.copilot/session-state/<id>/events.jsonl``).

One JSON object per line: ``{"type", "data", "id", "parentId", "timestamp"}``
(the grammar of ``session-events.ts`` in github/copilot-sdk, Copilot CLI
0.0.3xx - 1.0.x; older versions wrote the same lines to
``session-state/<id>.jsonl``). Events marked ``ephemeral`` (deltas,
``assistant.usage``) are not written to the file, so what it holds about
tokens is each ``assistant.message``'s ``outputTokens`` and, when the CLI
exits, ``session.shutdown``'s ``modelMetrics``: per model, the totals since
the session was started or resumed. ``inputTokens`` there already includes
``cacheReadTokens`` and ``cacheWriteTokens``, and ``outputTokens`` includes
``reasoningTokens`` (our convention as it is).

The output of each message is counted on that message; the shutdown event
gets, per model, the input and cache totals and the part of the output total
the messages did not state, so the session's sums equal the CLI's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..events import Event
from .base import Parser, Skip, count, make_event, safe_session_id, text_of, timestamp


def is_side_file(path: Path) -> bool:
    """A file Copilot CLI keeps in a session's folder that is not its event log.

    ``session-state/<id>/`` holds ``events.jsonl`` beside ``workspace.yaml``,
    ``vscode.metadata.json``, ``plan.md``, ``checkpoints/`` and ``files/``
    (the session's artefacts, of any format): only the event log is read.
    """
    parts = path.parts
    if "session-state" not in parts:
        return False
    inside = parts[len(parts) - 1 - parts[::-1].index("session-state") + 1 :]
    return len(inside) > 1 and inside[1:] != ("events.jsonl",)


class CopilotParser(Parser):
    format = "copilot"

    def feed(self, lineno: int, record: Any) -> list[Event]:
        record = self.require_object(record)
        kind, data = record.get("type"), record.get("data")
        if not isinstance(kind, str) or not isinstance(data, dict):
            raise Skip("unknown shape", "not a Copilot CLI session event")
        if record.get("ephemeral") is True:
            return self.ignore(f"{kind} (ephemeral)")
        key = record["id"] if isinstance(record.get("id"), str) else f"line{lineno}"
        ts = timestamp(record.get("timestamp"), self.state.get("ts0"))
        self.state.setdefault("ts0", ts)
        handler = HANDLERS.get(kind)
        if handler is None:
            return self.ignore(kind)
        try:
            events: list[Event] = handler(self, key, ts, data)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            # a field of an unexpected type: this line is unusable, the rest is not
            raise Skip("unknown shape", f"{kind}: {exc}") from None
        return events

    # -- session events ------------------------------------------------------

    def _session_start(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        if "sid" not in self.state:
            sid = data.get("sessionId") or _id_from_path(self.path)
            self.state["sid"] = safe_session_id(sid, "copilot")
        self._context(data)
        version = data.get("copilotVersion")
        content = f"Copilot CLI {version} session" if version else "Copilot CLI session"
        if self.state.get("cwd"):
            content += f" in {self.state['cwd']}"
        keep = ("copilotVersion", "producer", "version", "selectedModel", "context")
        meta = {k: data[k] for k in keep if data.get(k) is not None}
        return [self._event(key, ts, "system", content, kind="meta", data=meta)]

    def _session_resume(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        self._context(data)
        return self.ignore("session.resume")

    def _context(self, data: dict[str, Any]) -> None:
        context = _obj(data.get("context"))
        for name, value in (
            ("cwd", context.get("cwd")),
            ("branch", context.get("branch")),
        ):
            if isinstance(value, str) and value:
                self.state[name] = value
        if isinstance(data.get("selectedModel"), str):
            self.state["model"] = data["selectedModel"]

    def _session_context_changed(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        self._context({"context": data})
        return self.ignore("session.context_changed")

    def _session_model_change(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        if isinstance(data.get("newModel"), str):
            self.state["model"] = data["newModel"]
        return self.ignore("session.model_change")

    def _session_title_changed(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        if isinstance(data.get("title"), str) and data["title"].strip():
            self.state["named"] = data["title"].strip()[:200]
        return self.ignore("session.title_changed")

    def _notice(
        self, key: str, ts: str, data: dict[str, Any], kind: str
    ) -> list[Event]:
        message = data.get("message")
        content = (
            message
            if isinstance(message, str)
            else json.dumps(data, ensure_ascii=False)
        )
        return [
            self._event(key, ts, "system", content, kind="meta", data={"type": kind})
        ]

    def _session_info(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        return self._notice(key, ts, data, "session.info")

    def _session_warning(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        return self._notice(key, ts, data, "session.warning")

    def _session_error(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        return self._notice(key, ts, data, "session.error")

    def _abort(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        reason = data.get("reason")
        content = f"Aborted: {reason}" if isinstance(reason, str) else "Aborted"
        return [
            self._event(key, ts, "system", content, kind="meta", data={"type": "abort"})
        ]

    def _session_compaction_complete(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        summary = data.get("summaryContent") or data.get("summary")
        content = (
            summary
            if isinstance(summary, str) and summary
            else "Conversation compacted"
        )
        return [
            self._event(
                key, ts, "system", content, kind="meta", data={"type": "compaction"}
            )
        ]

    def _session_shutdown(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        metrics = _obj(data.get("modelMetrics"))
        stated: dict[str, int] = self.state.pop("output", {})
        # output stated on messages under a name the metrics do not use: taken
        # off the other models' rest, so the total is never counted twice
        unmatched = sum(n for model, n in stated.items() if model not in metrics)
        events = []
        for model, metric in sorted(metrics.items()):
            usage = metric.get("usage") if isinstance(metric, dict) else None
            if not isinstance(usage, dict):
                continue
            requests = _obj(metric.get("requests"))
            n = count(requests.get("count"))
            rest = max(0, count(usage.get("outputTokens")) - stated.get(model, 0))
            taken = min(rest, unmatched)
            unmatched -= taken
            events.append(
                self._event(
                    f"{key}:{model}",
                    ts,
                    "assistant",
                    f"{model}: {n} request(s) since the session started or resumed",
                    kind="meta",
                    model=model,
                    data={"type": "session.shutdown", "requests": requests},
                    input_tokens=count(usage.get("inputTokens")),
                    cached_input_tokens=count(usage.get("cacheReadTokens")),
                    cache_write_tokens=count(usage.get("cacheWriteTokens")),
                    output_tokens=rest - taken,
                    reasoning_tokens=count(usage.get("reasoningTokens")),
                )
            )
        if not events:
            return self.ignore("session.shutdown without metrics")
        return events

    # -- the transcript --------------------------------------------------------

    def _user_message(self, key: str, ts: str, data: dict[str, Any]) -> list[Event]:
        content = text_of(data.get("content"))
        if content.strip() and "title" not in self.state:
            self.state["title"] = content.strip()[:200]
        extra = (
            {"source": data["source"]} if isinstance(data.get("source"), str) else {}
        )
        return [self._event(key, ts, "user", content, data=extra)]

    def _assistant_reasoning(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        content = text_of(data.get("content"))
        if not content:
            return self.ignore("assistant.reasoning without content")
        self.state["reasoning"] = content
        return [
            self._event(
                key,
                ts,
                "assistant",
                content,
                kind="reasoning",
                model=self.state.get("model"),
            )
        ]

    def _assistant_message(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        model = (
            data.get("model")
            if isinstance(data.get("model"), str)
            else self.state.get("model")
        )
        base: dict[str, Any] = {}
        if isinstance(data.get("parentToolCallId"), str):
            base["parent_tool_call_id"] = data["parentToolCallId"]
        pieces: list[tuple[str, str, str, dict[str, Any]]] = []
        reasoning = data.get("reasoningText")
        if (
            isinstance(reasoning, str)
            and reasoning
            and reasoning != self.state.pop("reasoning", None)
        ):
            pieces.append(("reasoning", "reasoning", reasoning, {}))
        content = text_of(data.get("content"))
        if content:
            pieces.append(("text", "message", content, {}))
        for i, request in enumerate(data.get("toolRequests") or []):
            if not isinstance(request, dict):
                continue
            cid = (
                request.get("toolCallId")
                if isinstance(request.get("toolCallId"), str)
                else None
            )
            name = request.get("name") if isinstance(request.get("name"), str) else None
            args = request.get("arguments")
            text = (
                args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            )
            if cid:
                self.state.setdefault("calls", {})[cid] = name
            pieces.append(
                (
                    f"call:{cid or i}",
                    "tool_call",
                    text,
                    {"tool_name": name, "tool_call_id": cid},
                )
            )
        out = count(data.get("outputTokens"))
        call = data.get("apiCallId")
        if isinstance(call, str) and call:
            # a response split into chunks (one per reasoning boundary) shares
            # its apiCallId: its usage is counted on the first chunk only
            if call == self.state.get("last_call"):
                out = 0
            self.state["last_call"] = call
        if out and not pieces:
            pieces.append(("usage", "meta", "", {}))
        events = []
        for n, (suffix, kind, text, fields) in enumerate(pieces):
            if n == 0 and out:
                fields = {**fields, "output_tokens": out}
                stated = self.state.setdefault("output", {})
                stated[model or ""] = stated.get(model or "", 0) + out
            data = {**base, "type": "usage"} if suffix == "usage" else dict(base)
            events.append(
                self._event(
                    f"{key}:{suffix}",
                    ts,
                    "assistant",
                    text,
                    kind=kind,
                    model=model,
                    data=data,
                    **fields,
                )
            )
        if model:
            self.state["model"] = model
        return events

    def _tool_execution_start(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        cid = data.get("toolCallId")
        calls = self.state.setdefault("calls", {})
        if not isinstance(cid, str) or cid in calls:
            return self.ignore("tool.execution_start")  # the request was the call
        name = data.get("toolName") if isinstance(data.get("toolName"), str) else None
        calls[cid] = name
        args = data.get("arguments")
        text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        return [
            self._event(
                key,
                ts,
                "assistant",
                text,
                kind="tool_call",
                tool_name=name,
                tool_call_id=cid,
                model=self.state.get("model"),
            )
        ]

    def _tool_execution_complete(
        self, key: str, ts: str, data: dict[str, Any]
    ) -> list[Event]:
        cid = (
            data.get("toolCallId") if isinstance(data.get("toolCallId"), str) else None
        )
        name = self.state.get("calls", {}).pop(cid, None) if cid else None
        result = data.get("result")
        error = data.get("error")
        if isinstance(result, dict):
            content = text_of(result.get("content"))
        elif isinstance(error, dict) and isinstance(error.get("message"), str):
            content = error["message"]
        else:
            content = text_of(result)
        extra: dict[str, Any] = {}
        if isinstance(data.get("success"), bool):
            extra["success"] = data["success"]
            if not data["success"]:
                extra["is_error"] = True
        return [
            self._event(
                key,
                ts,
                "tool",
                content,
                kind="tool_result",
                tool_name=name,
                tool_call_id=cid,
                data=extra,
            )
        ]

    # -- helpers ---------------------------------------------------------------

    def _event(
        self, key: str, ts: str, role: str, content: str, **fields: Any
    ) -> Event:
        sid = self.state.get("sid")
        if sid is None:
            sid = self.state["sid"] = safe_session_id(
                _id_from_path(self.path), "copilot"
            )
        return make_event(sid, key, ts, role, content, **fields)

    def session_updates(self) -> dict[str, dict[str, Any]]:
        sid = self.state.get("sid")
        if sid is None:
            return {}
        values = {
            "title": self.state.get("named") or self.state.get("title"),
            "cwd": self.state.get("cwd"),
            "git_branch": self.state.get("branch"),
            "model": self.state.get("model"),
        }
        return {sid: {k: v for k, v in values.items() if v}}


HANDLERS = {
    "session.start": CopilotParser._session_start,
    "session.resume": CopilotParser._session_resume,
    "session.context_changed": CopilotParser._session_context_changed,
    "session.model_change": CopilotParser._session_model_change,
    "session.title_changed": CopilotParser._session_title_changed,
    "session.info": CopilotParser._session_info,
    "session.warning": CopilotParser._session_warning,
    "session.error": CopilotParser._session_error,
    "session.compaction_complete": CopilotParser._session_compaction_complete,
    "session.shutdown": CopilotParser._session_shutdown,
    "abort": CopilotParser._abort,
    "user.message": CopilotParser._user_message,
    "assistant.reasoning": CopilotParser._assistant_reasoning,
    "assistant.message": CopilotParser._assistant_message,
    "tool.execution_start": CopilotParser._tool_execution_start,
    "tool.execution_complete": CopilotParser._tool_execution_complete,
}


def _id_from_path(path: Any) -> str:
    """The session id a file's place gives: ``<id>/events.jsonl`` or ``<id>.jsonl``."""
    return str(path.parent.name if path.name == "events.jsonl" else path.stem)


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}
