"""OpenAI Codex CLI rollout files (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``).

Also ``~/.codex/archived_sessions/`` (where Codex moves old rollouts) and
the output of ``codex exec --json``. The transcript is built from
``response_item`` lines; the ``event_msg`` copies of the same messages
(``user_message``, ``agent_message``, ``item_completed``, ...) are not
imported twice, nor the old turns a ``compacted`` line repeats in its
``replacement_history``. Both the envelope layout (``{"timestamp", "type",
"payload"}``) and the very old one (a bare meta object first, then bare
items and ``{"record_type": "state"}`` lines) are read.

Tokens: each ``event_msg`` ``token_count`` becomes a ``meta`` event of its
turn carrying what that model call spent: the difference of the cumulative
``total_token_usage`` from the previous one (a repeated count adds nothing),
else ``last_token_usage``. Summed over the events that is the session's last
total exactly. ``cached_input_tokens`` is part of ``input_tokens`` and
``reasoning_output_tokens`` (our ``reasoning_tokens``) part of
``output_tokens``, as Codex counts them. Event ids come from the session id
and the line, so the same rollout met at a second path (archived) adds
nothing.

Forks. A forked rollout (``codex fork``, ``/fork``, the app-server's
``thread/fork``, a sub-agent spawned with its parent's history) starts with
its own ``session_meta`` (``forked_from_id``: the parent thread), then
replays the parent's history as Codex persisted it: the parent's
``session_meta``, its items and its ``token_count`` events with their
cumulative totals, every line re-stamped with the fork's creation time
(codex-rs ``Session::record_initial_history``, ``InitialHistory::Forked``:
"persist all rollout items as-is"). Codex writes no marker where the replay
ends; the fork's own first turn does: its ``task_started`` /
``turn_context`` carries a ``turn_id`` (a UUIDv7) minted at or after the
fork's own id, or a ``started_at`` second at or after it, where every
replayed turn is older (the rule agentsview and tokscale use). An undated
turn (old ids, no ``started_at``) is the fork's own right after the output a
forked sub-agent's replay ends with (below), else when written more than a
second after the replay's first line (the replay is written at once).
An ``inter_agent_communication`` addressed to the rollout's own
``agent_path`` (the task a multi-agent v2 sub-agent is sent) is its own too.
The replayed lines are not imported: they are the parent's, on the parent's
page; one ``meta`` event (``data.type = "fork_point"``) says how many there
were, where the fork's own events begin, and the session is linked to its
parent by ``parent_session_id``. The replay's last cumulative total is the
fork's baseline, so its token events count only what the fork spent (a
replayed total met again later adds nothing). A ``session_meta`` of another
thread right after the rollout's own opens the same replay window (forks
written before ``forked_from_id`` existed), except in a sub-agent without
``forked_from_id``: Codex names it for every rollout seeded with history, so
such a sub-agent copied its parent's meta alone (Codex 0.142, 0.145).

Sub-agents (``source.subagent.thread_spawn.parent_thread_id``) are linked to
their parent session and to the ``spawn_agent`` call that started them: the
call's output names the new thread (``{"agent_id": ...}``, multi-agent v1;
``collab_agent_spawn_end.new_thread_id``) or its task (``{"task_name":
...}``, v2, the child's ``agent_path``); a sub-agent forked with its
parent's history also names the call in its replay (the synthetic output
"You are the newly spawned agent..."). The tool result keeps ``agent_id`` /
``task_name`` in its ``data``; :func:`subagent_links` joins both sides in
the database, so either may be imported first.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..errors import CodexError
from ..events import Event, format_ts, is_injected_context, normalize_ts
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
# response_item types that carry nothing to import (snapshots, compaction blobs).
QUIET_ITEMS = {"ghost_snapshot", "compaction", "compaction_summary", "other"}
# event_msg types known to repeat response items or to carry nothing to import.
QUIET_EVENTS = {
    "user_message",
    "agent_message",
    "agent_message_delta",
    "agent_reasoning",
    "agent_reasoning_delta",
    "agent_reasoning_raw_content",
    "agent_reasoning_section_break",
    "item_started",
    "item_completed",
    "task_started",
    "task_complete",
    "turn_started",
    "turn_complete",
    "context_compacted",
    "exec_command_begin",
    "exec_command_end",
    "exec_command_output_delta",
    "exec_approval_request",
    "apply_patch_approval_request",
    "patch_apply_begin",
    "patch_apply_end",
    "mcp_tool_call_begin",
    "mcp_tool_call_end",
    "web_search_begin",
    "web_search_end",
    "view_image_tool_call",
    "plan_update",
    "entered_review_mode",
    "exited_review_mode",
    "error",
    "stream_error",
    "warning",
    "background_event",
    "session_configured",
    "thread_settings_applied",
    "thread_name_updated",
    "shutdown_complete",
    "undo_started",
    "undo_completed",
    "collab_agent_spawn_begin",
    "collab_agent_spawn_end",
    "collab_agent_interaction_begin",
    "collab_agent_interaction_end",
    "collab_waiting_begin",
    "collab_waiting_end",
}
# Envelope types that carry nothing to import.
QUIET_LINES = {
    "world_state",
    "inter_agent_communication_metadata",
    "security_risk_score",
    "realtime_item",
    "token_usage_record",
}
# The header of a shell result in plain text: "Exit code: N" (0.4x-0.5x) or,
# from unified exec on, "Chunk ID: …" / "Wall time: N seconds" / "Process
# exited with code N" / "Original token count: N", then "Output:".
OUTPUT_HEADER = re.compile(
    r"(?:Exit code: (?P<code>-?\d+)"
    r"|Process exited with code (?P<exited>-?\d+)"
    r"|Wall time: (?P<secs>[\d.]+) seconds?"
    r"|Chunk ID: \S*"
    r"|Process running with session ID (?P<running>\S+)"
    r"|Original token count: (?P<tokens>\d+)"
    r"|Total output lines: \d+)[ \t]*\r?\n"
)
OUTPUT_MARK = re.compile(r"Output:[ \t]*\r?\n?")
UUID_IN_NAME = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# event_msg types that open a turn (``TurnStartedEvent``, serialized as task_started).
TURN_STARTS = {"task_started", "turn_started"}
# What codex-rs (agent/control.rs, FORKED_SPAWN_AGENT_OUTPUT_MESSAGE) answers, in
# a forked sub-agent's history, to the parent's spawn_agent call.
FORKED_SPAWN_OUTPUT = "You are the newly spawned agent."
# The replay is written at once when the fork is created; an undated turn this
# long after the replay's first line is the fork's own.
REPLAY_BURST_MS = 1000
SPAWN_TOOLS = {"spawn_agent"}


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
            if kind == "session_meta" and self._inherited_meta(payload):
                return self._replayed(kind, payload, ts)
            if self.state.get("replay"):
                if not self._own_turn_starts(kind, payload, ts):
                    return self._replayed(kind, payload, ts)
                point = self._fork_point(lineno, ts)
                return [*point, *self.feed(lineno, record)]
            if kind == "session_meta":
                return self._meta(lineno, payload, ts)
            self.state["own_lines"] = True
            if kind == "turn_context":
                return self._turn_context(payload)
            if kind == "response_item":
                return self._item(lineno, payload, ts)
            if kind == "event_msg":
                return self._event_msg(lineno, payload, ts)
            if kind == "compacted":
                # replacement_history holds the old turns again: not imported twice.
                data: dict[str, Any] = {"type": "compacted"}
                history = payload.get("replacement_history")
                if isinstance(history, list):
                    data["replacement_items"] = len(history)
                return [
                    self._event(
                        lineno,
                        ts,
                        "system",
                        text_of(payload.get("message")),
                        kind="meta",
                        data=data,
                    )
                ]
            if kind == "inter_agent_communication":
                return [self._inter_agent(lineno, payload, ts)]
            if kind in QUIET_LINES:
                return self.ignore(kind)
            return self.unknown(kind)
        if isinstance(kind, str) and "." in kind or kind == "error":
            return self._exec_json(lineno, record, kind)
        if "record_type" in record:
            return self.ignore(f"record_type {record['record_type']}")
        if kind is None and "id" in record and "timestamp" in record:
            return self._meta(lineno, record, record.get("timestamp"))
        if kind in ITEM_TYPES:
            return self._item(lineno, record, record.get("timestamp"))
        raise Skip("unknown shape", "not a Codex rollout line")

    def _inter_agent(self, lineno: int, payload: dict[str, Any], ts: Any) -> Event:
        """A message between agents (multi-agent Codex): who to whom, and what."""
        data = {
            key: payload[key]
            for key in ("author", "recipient", "other_recipients", "trigger_turn")
            if payload.get(key) is not None
        }
        data["type"] = "inter_agent_communication"
        content = text_of(payload.get("content"))
        path = self.state.get("agent_path")
        if path and payload.get("recipient") == path and content.strip():
            # The task this sub-agent was sent: its title, as a prompt would be.
            self.state.setdefault("title", redact_text(content.strip())[:200])
        return self._event(
            lineno,
            ts,
            "assistant",
            content,
            model=self.state.get("model"),
            data=data,
        )

    # -- forks: the parent's history replayed -------------------------------

    def _inherited_meta(self, payload: dict[str, Any]) -> bool:
        """Another thread's ``session_meta`` after this rollout's own: a replay.

        It opens the replay window unless the rollout's own turns began.
        """
        if not self.state.get("meta_seen"):
            return False
        other = safe_session_id(payload.get("id"), "codex")
        if other == self.state.get("sid"):
            return False
        # Since forked_from_id exists, every rollout seeded with history names
        # it; a sub-agent without it copied its parent's meta alone.
        subagent = "parent" in self.state and "forked_from" not in self.state
        if not (self.state.get("own_lines") or subagent or "replay" in self.state):
            self.state["replay"] = True
            if "parent" not in self.state:
                # A fork written before forked_from_id: the first copied meta
                # is the parent's (a nested fork's next ones, its ancestors').
                self.state["forked_from"] = self.state["parent"] = other
        return True

    def _own_turn_starts(self, kind: str, payload: dict[str, Any], ts: Any) -> bool:
        """Whether this line, met in the replay window, opens the fork's own first turn."""
        if kind == "event_msg" and payload.get("type") in TURN_STARTS:
            started = payload.get("started_at")
        elif kind == "turn_context":
            started = None
        elif kind == "inter_agent_communication":
            # The task a multi-agent v2 sub-agent is sent: addressed to it, so
            # never part of its parent's history.
            path = self.state.get("agent_path")
            return isinstance(path, str) and payload.get("recipient") == path
        else:
            return False
        fork_ms = self.state.get("fork_ms")
        if not isinstance(fork_ms, int):
            return True  # nothing to date the fork by: no replay to skip
        minted = _uuid7_ms(payload.get("turn_id"))
        if minted is not None:
            return minted >= fork_ms
        if isinstance(started, int | float) and not isinstance(started, bool):
            return started >= fork_ms // 1000
        if self.state.get("spawn_output_last"):
            return True  # a forked sub-agent's replay ends with its spawn's output
        # Measured from the replay's first line, not the meta: older Codex wrote
        # the meta when the session was created, the replay after its start-up.
        written = _ms(ts)
        replay_written = self.state.get("replay_written_ms") or self.state.get(
            "meta_written_ms"
        )
        return (
            written is not None
            and isinstance(replay_written, int)
            and written - replay_written > REPLAY_BURST_MS
        )

    def _replayed(self, kind: str, payload: dict[str, Any], ts: Any) -> list[Event]:
        """A line of the parent's history: not imported, but its total is the baseline."""
        if self.state.get("replay") and "replay_written_ms" not in self.state:
            self.state["replay_written_ms"] = _ms(ts)
        if kind == "session_meta":
            return self.ignore("session_meta (inherited)")
        self.state["replayed"] = self.state.get("replayed", 0) + 1
        self.state["spawn_output_last"] = False
        if kind == "event_msg" and payload.get("type") == "token_count":
            info = payload.get("info")
            total = (
                _usage(info.get("total_token_usage"))
                if isinstance(info, dict)
                else None
            )
            if total is not None:
                self.state["total"] = total
                seen = self.state.setdefault("replayed_totals", [])
                if len(seen) < 10_000:
                    seen.append(_total_key(total))
        elif kind == "turn_context" and isinstance(payload.get("model"), str):
            self.state.setdefault("model", payload["model"])
        elif kind == "response_item":
            call_id = payload.get("call_id")
            marker = payload.get("type") in OUTPUT_TYPES and parse_output(
                payload.get("output")
            )[0].startswith(FORKED_SPAWN_OUTPUT)
            if marker and isinstance(call_id, str):
                # The last one is this sub-agent's: nested forks replay their own.
                self.state["spawn_call"] = call_id
            self.state["spawn_output_last"] = marker
        return self.ignore("replayed parent history")

    def _fork_point(self, lineno: int, ts: Any) -> list[Event]:
        """Where the fork's own events begin, and how many replayed lines came before."""
        self.state["replay"] = False
        replayed = self.state.get("replayed", 0)
        parent = self.state.get("forked_from") or self.state.get("parent")
        if not replayed and not self.state.get("forked_from"):
            return []  # a sub-agent that copied only its parent's session_meta
        content = f"Forked from session {parent}" if parent else "Fork"
        content += (
            f": {replayed} line(s) of its history before this point are the parent's,"
            " not imported again"
        )
        data = {"type": "fork_point", "replayed_lines": replayed}
        if parent:
            data["forked_from_id"] = parent
        return [
            self._event(
                lineno, ts, "system", content, key="fork_point", kind="meta", data=data
            )
        ]

    # -- metadata lines ---------------------------------------------------

    def _meta(self, lineno: int, meta: dict[str, Any], ts: Any) -> list[Event]:
        if "sid" in self.state and self.state.get("meta_seen"):
            # The rollout's own meta again (a resumed session rewrites it).
            return self.ignore("session_meta (repeated)")
        self.state["meta_seen"] = True
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
                "forked_from",
            )
            if meta.get(key) is not None
        }
        if git:
            data["git"] = git
        if isinstance(meta.get("model_provider"), str):
            self.state.setdefault("provider", meta["model_provider"])
        source = meta.get("source")
        spawn = source.get("subagent") if isinstance(source, dict) else None
        spawn = spawn.get("thread_spawn") if isinstance(spawn, dict) else None
        spawn = spawn if isinstance(spawn, dict) else {}
        for key in ("agent_path", "agent_nickname", "agent_role"):
            value = meta.get(key) or spawn.get(key)
            if isinstance(value, str) and value:
                data[key] = value
        if "agent_path" in data:
            self.state["agent_path"] = data["agent_path"]
        parent = spawn.get("parent_thread_id")
        if isinstance(parent, str) and "parent" not in self.state:
            self.state["parent"] = safe_session_id(parent, "codex")
            self.state["subagent"] = True
        forked = meta.get("forked_from_id") or meta.get("forked_from")
        if isinstance(forked, str) and forked:
            self.state["forked_from"] = safe_session_id(forked, "codex")
            self.state.setdefault("parent", self.state["forked_from"])
            self.state.setdefault("replay", True)
        # The fork's creation: its own id is a UUIDv7; else the meta's time.
        self.state["fork_ms"] = _uuid7_ms(meta.get("id")) or _ms(start)
        self.state["meta_written_ms"] = _ms(ts) or _ms(start)
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
            return self._token_count(lineno, payload, ts)
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
        if kind == "collab_agent_spawn_end":
            # Persisted in the extended mode only: names the thread the call started.
            call_id, thread = payload.get("call_id"), payload.get("new_thread_id")
            if isinstance(call_id, str) and isinstance(thread, str):
                self.state.setdefault("spawned", {})[call_id] = thread
        # user_message / agent_message / agent_reasoning / item_completed repeat
        # the response items.
        if kind in QUIET_EVENTS:
            return self.ignore(f"event_msg {kind}")
        return self.unknown(f"event_msg {kind}")

    def _token_count(
        self, lineno: int, payload: dict[str, Any], ts: Any
    ) -> list[Event]:
        info = payload.get("info")
        if not isinstance(info, dict):
            return self.ignore("event_msg token_count")  # rate limits only
        total = _usage(info.get("total_token_usage"))
        last = _usage(info.get("last_token_usage"))
        spent = None
        if total is not None:
            before = self.state.get("total", [0] * len(total))
            diff = [t - b for t, b in zip(total, before, strict=True)]
            if min(diff) < 0 and _total_key(total) in self.state.get(
                "replayed_totals", ()
            ):
                # A parent's count again, after the fork's own turn began: the
                # parent spent it, and the baseline stays.
                return self.ignore("event_msg token_count (replayed)")
            self.state["total"] = total
            spent = diff if min(diff) >= 0 else last
        elif last is not None:
            spent = last
        if not spent or not any(spent):
            return self.ignore("event_msg token_count")
        # Keyed by the cumulative total, not the line: the same count in
        # another copy of the session's history is the same event.
        key = "tokens:" + ",".join(map(str, total)) if total is not None else None
        return [self._tokens_event(lineno, ts, spent, key)]

    def _tokens_event(
        self, lineno: int, ts: Any, spent: list[int], key: str | None = None
    ) -> Event:
        tokens = dict(zip(TOKEN_FIELDS, spent, strict=True))
        text = f"tokens: {tokens['input_tokens']} in"
        if tokens["cached_input_tokens"]:
            text += f" ({tokens['cached_input_tokens']} cached)"
        text += f", {tokens['output_tokens']} out"
        if tokens["reasoning_tokens"]:
            text += f" ({tokens['reasoning_tokens']} reasoning)"
        return self._event(
            lineno,
            ts,
            "assistant",
            text,
            kind="meta",
            model=self.state.get("model"),
            provider=self.state.get("provider"),
            key=key,
            data={"type": "token_count"},
            **tokens,
        )

    # -- `codex exec --json` ------------------------------------------------

    def _exec_json(self, lineno: int, record: dict[str, Any], kind: str) -> list[Event]:
        """One line of ``codex exec --json`` (thread.*, turn.*, item.*): no timestamps."""
        if kind == "thread.started":
            thread = record.get("thread_id")
            self.state.setdefault("sid", safe_session_id(thread, "codex"))
            self.state.setdefault("ts0", _uuid7_ts(thread) or self._first_seen())
            self.state["exec_json"] = True
            return [
                self._event(
                    lineno,
                    None,
                    "system",
                    "codex exec --json session",
                    kind="meta",
                    data={"type": "thread.started"},
                )
            ]
        self.state.setdefault("ts0", self._first_seen())
        if kind == "turn.completed":
            spent = _usage(record.get("usage"))
            if spent and any(spent):
                return [self._tokens_event(lineno, None, spent)]
            return self.ignore(kind)
        if kind in ("turn.failed", "error"):
            error = record.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            message = message or record.get("message")
            return [
                self._event(
                    lineno,
                    None,
                    "system",
                    str(message or kind),
                    kind="meta",
                    data={"type": kind},
                )
            ]
        if kind != "item.completed":
            if kind in ("turn.started", "item.started", "item.updated"):
                return self.ignore(kind)
            return self.unknown(kind)
        item = record.get("item")
        if not isinstance(item, dict):
            raise Skip("unknown shape", "item.completed without an item object")
        return self._exec_item(lineno, item)

    def _exec_item(self, lineno: int, item: dict[str, Any]) -> list[Event]:
        itype = item.get("type") or item.get("item_type")
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        model = self.state.get("model")
        if itype in ("agent_message", "assistant_message"):
            return [
                self._event(
                    lineno, None, "assistant", text_of(item.get("text")), model=model
                )
            ]
        if itype == "reasoning":
            return [
                self._event(
                    lineno,
                    None,
                    "assistant",
                    text_of(item.get("text")),
                    kind="reasoning",
                    model=model,
                )
            ]
        call: tuple[str, Any] | None = None
        result: Any = None
        data: dict[str, Any] = {}
        if itype == "command_execution":
            call = ("shell", item.get("command"))
            result = item.get("aggregated_output")
            if isinstance(item.get("exit_code"), int):
                data["exit_code"] = item["exit_code"]
        elif itype == "file_change":
            call = ("apply_patch", item.get("changes"))
            result = item.get("status")
        elif itype == "mcp_tool_call":
            name = ".".join(str(item[k]) for k in ("server", "tool") if item.get(k))
            call = (name or "mcp_tool_call", item.get("arguments"))
            result = (
                item.get("result") if item.get("error") is None else item.get("error")
            )
        elif itype == "web_search":
            call = ("web_search", item.get("query"))
        if call is None:
            if itype in ("todo_list", "error"):
                text = text_of(item.get("message")) if itype == "error" else ""
                text = text or json.dumps(item.get("items") or item, ensure_ascii=False)
                return [
                    self._event(
                        lineno, None, "system", text, kind="meta", data={"type": itype}
                    )
                ]
            return self.unknown(f"item.completed {itype}")
        name, args = call
        content = (
            args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        )
        if isinstance(item.get("status"), str):
            data["status"] = item["status"]
        events = [
            self._event(
                lineno,
                None,
                "assistant",
                content,
                kind="tool_call",
                tool_name=name,
                tool_call_id=item_id,
                model=model,
            )
        ]
        if result is not None or data:
            text = (
                result
                if isinstance(result, str)
                else json.dumps(result, ensure_ascii=False)
            )
            events.append(
                make_event(
                    events[0].session_id,
                    f"{lineno}:result",
                    events[0].ts,
                    "tool",
                    text if result is not None else "",
                    kind="tool_result",
                    tool_name=name,
                    tool_call_id=item_id,
                    data=data,
                )
            )
        return events

    def _first_seen(self) -> str:
        """No timestamps in ``codex exec --json``: the file's time when first read."""
        return format_ts(datetime.fromtimestamp(self.path.stat().st_mtime, UTC))

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
                and not is_injected_context(content)
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
        if kind in QUIET_ITEMS:
            return self.ignore(f"response_item {kind}")
        return self.unknown(f"response_item {kind}")

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
        if name in SPAWN_TOOLS and isinstance(call_id, str):
            data.update(
                _spawned(content, self.state.get("spawned", {}).pop(call_id, None))
            )
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
        self,
        lineno: int,
        ts: Any,
        role: str,
        content: str,
        key: str | None = None,
        **fields: Any,
    ) -> Event:
        sid = self.state.get("sid")
        if sid is None:
            sid = self.state["sid"] = _fallback_id(self.path.name)
        when = timestamp(ts, self.state.get("ts0"))
        self.state.setdefault("ts0", when)
        return make_event(sid, key or str(lineno), when, role, content, **fields)

    # -- what the session gets ---------------------------------------------

    def session_updates(self) -> dict[str, dict[str, Any]]:
        sid = self.state.get("sid")
        if sid is None:
            return {}
        values = {
            "title": self.state.get("title"),
            "cwd": self.state.get("cwd"),
            "git_branch": self.state.get("branch"),
            "model": self.state.get("model"),
            "parent_session_id": self.state.get("parent"),
            # A user's fork of a forked sub-agent replays that call too: not its own.
            "parent_tool_call_id": self.state.get("subagent")
            and self.state.get("spawn_call"),
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
        text = text_of(output.get("output", output.get("content")))
        if meta:
            return text, data
        return _plain_output(text, data)  # {"content": "Chunk ID: …", "success": …}
    text = text_of(output)
    return _plain_output(text, data)


def _plain_output(text: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Header lines (exit code, wall time, ...) then ``Output:``: the output alone."""
    pos = 0
    found: dict[str, Any] = {}
    while match := OUTPUT_HEADER.match(text, pos):
        code = match["code"] or match["exited"]
        if code is not None:
            found["exit_code"] = int(code)
        if match["secs"] is not None:
            found["duration_seconds"] = float(match["secs"])
        if match["running"] is not None:
            found["process_session_id"] = match["running"]
        if match["tokens"] is not None:
            found["original_token_count"] = int(match["tokens"])
        pos = match.end()
    mark = OUTPUT_MARK.match(text, pos)
    if pos == 0 or mark is None:
        return text, data
    return text[mark.end() :], {**data, **found}


TOKEN_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def _usage(value: Any) -> list[int] | None:
    """A Codex usage object as counts in :data:`TOKEN_FIELDS` order."""
    if not isinstance(value, dict):
        return None
    return [
        count(value.get(name))
        for name in (
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "reasoning_output_tokens",
        )
    ]


def _spawned(content: str, thread: str | None) -> dict[str, str]:
    """What a ``spawn_agent`` result names: the new thread (v1) or its task (v2)."""
    found: dict[str, str] = {"agent_id": thread} if thread else {}
    try:
        result = json.loads(content)
    except ValueError:
        return found
    if isinstance(result, dict):
        for key in ("agent_id", "task_name"):
            if isinstance(result.get(key), str) and result[key]:
                found.setdefault(key, result[key])
    return found


def _total_key(total: list[int]) -> str:
    return ",".join(map(str, total))


def _ms(value: Any) -> int | None:
    """Milliseconds since the epoch of a timestamp in any form we accept, else ``None``."""
    if value is None:
        return None
    try:
        when = normalize_ts(value)
    except CodexError:
        return None
    return int(datetime.fromisoformat(when[:-1] + "+00:00").timestamp() * 1000)


def _uuid7_ms(value: Any) -> int | None:
    """The creation time (ms) in a UUIDv7 (Codex thread and turn ids are v7)."""
    if (
        not isinstance(value, str)
        or not UUID_IN_NAME.fullmatch(value.lower())
        or value[14] != "7"
    ):
        return None
    return int(value.replace("-", "")[:12], 16)


def _uuid7_ts(value: Any) -> str | None:
    """The creation time in a UUIDv7 (Codex thread ids are v7)."""
    if (
        not isinstance(value, str)
        or not UUID_IN_NAME.fullmatch(value)
        or value[14] != "7"
    ):
        return None
    ms = int(value.replace("-", "")[:12], 16)
    return format_ts(datetime.fromtimestamp(ms / 1000, UTC))


def _fallback_id(name: str) -> str:
    """A session id for a rollout without its meta line: the uuid in its name, else a hash."""
    match = UUID_IN_NAME.search(name)
    if match:
        return match.group(0)
    return "codex-" + hashlib.blake2b(name.encode(), digest_size=8).hexdigest()


def subagent_links(
    conn: sqlite3.Connection, sids: Iterable[str]
) -> list[tuple[str, dict[str, str]]]:
    """Codex sub-agent sessions among or under ``sids`` and the spawn call that started each.

    A sub-agent's rollout names its parent thread but not the call; the
    parent's ``spawn_agent`` result names the child (``agent_id``) or its task
    (``task_name``, the child's ``agent_path``). Read from the database, so
    the link is found whichever of the two files was imported first.
    """
    ids = json.dumps(sorted(sids))
    rows = conn.execute(
        "SELECT id, parent_session_id FROM sessions WHERE source = 'codex' "
        "AND parent_session_id IS NOT NULL AND parent_tool_call_id IS NULL "
        "AND (id IN (SELECT value FROM json_each(?)) "
        "OR parent_session_id IN (SELECT value FROM json_each(?)))",
        (ids, ids),
    ).fetchall()
    links = []
    for child, parent in rows:
        call = _spawn_call(conn, parent, "$.agent_id", child)
        if call is None:
            path = conn.execute(
                "SELECT json_extract(data, '$.agent_path') FROM events "
                "WHERE session_id = ? AND kind = 'meta' "
                "AND json_extract(data, '$.agent_path') IS NOT NULL LIMIT 1",
                (child,),
            ).fetchone()
            if path is not None:
                call = _spawn_call(conn, parent, "$.task_name", path[0])
        if call is not None:
            links.append(
                (child, {"parent_session_id": parent, "parent_tool_call_id": call})
            )
    return links


def _spawn_call(
    conn: sqlite3.Connection, parent: str, field: str, value: str
) -> str | None:
    row = conn.execute(
        "SELECT tool_call_id FROM events WHERE session_id = ? "
        "AND tool_name = 'spawn_agent' AND kind = 'tool_result' "
        f"AND json_extract(data, '{field}') = ? ORDER BY seq LIMIT 1",
        (parent, value),
    ).fetchone()
    return row[0] if row else None
