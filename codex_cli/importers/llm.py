"""The ``llm`` CLI's logs database (``logs.db``), llm 0.13 to 0.36.

Two schemas, both read (a database upgraded from an older llm has rows in
both; ``llm/migrations.py`` is the reference):

- until llm 0.31, ``conversations`` and ``responses`` (+ ``tool_calls``,
  ``tool_results``);
- from llm 0.32 (migration m023), ``threads``, ``turns`` and the
  content-addressed ``messages`` / ``parts``. A turn is one model call:
  its input is the chain of messages ending at ``parent_message_hash``
  (its own new input is the trailing run of user and tool messages, as
  llm's own log builder takes it), its output the messages up to
  ``tip_message_hash``. A response whose id is also a turn's is the same
  call written twice (llm suppresses it too): read once, as the turn.

Every conversation or thread becomes a session. Per response or turn, in
order: the system prompt when it changes, the tool results sent with the
prompt, the prompt (``user``), the response (``assistant``, with the model
and the call's token counts) and the tool calls it made. Rows are read in
``rowid`` order and the last one read is remembered, so a later import
reads only newer ones.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ..errors import CodexError
from ..events import Event
from .base import (
    Parser,
    Problem,
    Skip,
    Undetected,
    count,
    make_event,
    safe_session_id,
    timestamp,
)


class LlmParser(Parser):
    format = "llm"

    def read(self) -> Iterator[Event | Problem]:
        """Every event of the responses newer than the last import, or a problem."""
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise Undetected("unreadable SQLite database", None, str(exc)) from None
        conn.row_factory = sqlite3.Row
        try:
            yield from self._read(conn)
        except sqlite3.DatabaseError as exc:
            raise Undetected("unreadable SQLite database", None, str(exc)) from None
        finally:
            conn.close()

    def _read(self, conn: sqlite3.Connection) -> Iterator[Event | Problem]:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if "responses" not in tables and "turns" not in tables:
            raise Undetected(
                "not an llm logs database", None, "no responses or turns table"
            )
        if "responses" in tables:
            yield from self._read_responses(conn, tables)
        if {"turns", "messages", "parts"} <= tables:
            yield from self._read_turns(conn, tables)

    def _read_responses(
        self, conn: sqlite3.Connection, tables: set[str]
    ) -> Iterator[Event | Problem]:
        after = int(self.state.get("rowid", 0))
        conversations = {}
        if "conversations" in tables:
            conversations = {
                row["id"]: row for row in conn.execute("SELECT * FROM conversations")
            }
        calls = self._by_response(conn, tables, "tool_calls", after)
        results = self._by_response(conn, tables, "tool_results", after)
        systems: dict[str, str] = self.state.setdefault("system", {})
        name = str(self.path)
        # A response also logged as a turn is read once, as the turn.
        also_turn = "AND id NOT IN (SELECT id FROM turns) " if "turns" in tables else ""
        for row in conn.execute(
            f"SELECT rowid AS _rowid, * FROM responses WHERE rowid > ? {also_turn}"
            "ORDER BY rowid",
            (after,),
        ):
            try:
                events = self._response(row, conversations, calls, results, systems)
            except Skip as exc:
                yield Problem(name, row["_rowid"], exc.reason, exc.detail)
            except CodexError as exc:
                yield Problem(name, row["_rowid"], "invalid event", str(exc))
            else:
                yield from events
            self.state["rowid"] = row["_rowid"]

    @staticmethod
    def _by_response(
        conn: sqlite3.Connection, tables: set[str], table: str, after: int
    ) -> dict[str, list[sqlite3.Row]]:
        grouped: dict[str, list[sqlite3.Row]] = defaultdict(list)
        if table in tables:
            for row in conn.execute(
                f"SELECT * FROM {table} WHERE response_id IN "
                "(SELECT id FROM responses WHERE rowid > ?) ORDER BY id",
                (after,),
            ):
                grouped[row["response_id"]].append(row)
        return grouped

    def _response(
        self,
        row: sqlite3.Row,
        conversations: dict[str, sqlite3.Row],
        calls: dict[str, list[sqlite3.Row]],
        results: dict[str, list[sqlite3.Row]],
        systems: dict[str, str],
    ) -> list[Event]:
        keys = row.keys()
        rid = row["id"]
        conv = conversations.get(row["conversation_id"] or rid)
        model = row["model"]
        sid = self._session_of(
            rid,
            row["conversation_id"],
            "a response",
            {"title": conv["name"], "model": conv["model"]} if conv is not None else {},
            {"model": model},
        )
        ts = timestamp(row["datetime_utc"])
        events: list[Event] = []
        system = row["system"] if "system" in keys else None
        events += _system_event(systems, sid, f"{rid}:system", ts, system)
        for result in results.get(rid, []):
            data = {}
            exception = dict(result).get("exception")  # absent before llm 0.27
            if exception:
                data["exception"] = exception
            events.append(
                make_event(
                    sid,
                    f"{rid}:result:{result['id']}",
                    ts,
                    "tool",
                    result["output"] or "",
                    kind="tool_result",
                    tool_name=result["name"],
                    tool_call_id=result["tool_call_id"],
                    data=data,
                )
            )
        if row["prompt"]:
            events.append(make_event(sid, f"{rid}:prompt", ts, "user", row["prompt"]))
        tokens = _tokens(
            row["input_tokens"] if "input_tokens" in keys else None,
            row["output_tokens"] if "output_tokens" in keys else None,
            row["token_details"] if "token_details" in keys else None,
        )
        data = (
            {"duration_ms": row["duration_ms"]}
            if row["duration_ms"] is not None
            else {}
        )
        events.append(
            make_event(
                sid,
                f"{rid}:response",
                ts,
                "assistant",
                row["response"] or "",
                model=model,
                data=data,
                **tokens,
            )
        )
        for call in calls.get(rid, []):
            events.append(
                make_event(
                    sid,
                    f"{rid}:call:{call['id']}",
                    ts,
                    "assistant",
                    call["arguments"] or "",
                    kind="tool_call",
                    tool_name=call["name"],
                    tool_call_id=call["tool_call_id"],
                    model=model,
                )
            )
        return events

    # -- llm 0.32+: threads, turns, messages, parts ------------------------

    def _read_turns(
        self, conn: sqlite3.Connection, tables: set[str]
    ) -> Iterator[Event | Problem]:
        after = int(self.state.get("turn_rowid", 0))
        threads = {row["id"]: row for row in conn.execute("SELECT * FROM threads")}
        chains = _Chains(conn, "fragments" in tables)
        systems: dict[str, str] = self.state.setdefault("system", {})
        name = str(self.path)
        for row in conn.execute(
            "SELECT rowid AS _rowid, * FROM turns WHERE rowid > ? ORDER BY rowid",
            (after,),
        ):
            try:
                events = self._turn(row, threads, chains, systems)
            except Skip as exc:
                yield Problem(name, row["_rowid"], exc.reason, exc.detail)
            except CodexError as exc:
                yield Problem(name, row["_rowid"], "invalid event", str(exc))
            else:
                yield from events
            self.state["turn_rowid"] = row["_rowid"]

    def _session_of(
        self, key: Any, group: Any, what: str, *attributes: dict[str, Any]
    ) -> str:
        """The session of a response or turn ``key``: its conversation or thread
        ``group``, else itself; ``attributes`` are merged into it in order."""
        if not key:
            raise Skip("unknown shape", f"{what} without an id")
        sid = safe_session_id(group or key, "llm")
        self.state.setdefault("sid", sid)
        info = self.session(sid)
        for values in attributes:
            info.merge(values)
        return sid

    def _turn(
        self,
        row: sqlite3.Row,
        threads: dict[str, sqlite3.Row],
        chains: _Chains,
        systems: dict[str, str],
    ) -> list[Event]:
        tid = row["id"]
        thread = threads.get(row["thread_id"] or tid)
        model = row["resolved_model"] or row["model"]
        sid = self._session_of(
            tid,
            row["thread_id"],
            "a turn",
            {"title": thread["name"]} if thread is not None else {},
            {"model": model},
        )
        ts = timestamp(row["datetime_utc"])
        inputs = chains.chain(row["parent_message_hash"])
        outputs = chains.chain(row["tip_message_hash"])[len(inputs) :]
        boundary = len(inputs)
        while boundary and inputs[boundary - 1][0] in ("user", "tool"):
            boundary -= 1
        events: list[Event] = []
        if inputs and inputs[0][0] == "system":
            system = "\n".join(p["text"] for p in inputs[0][1] if p["text"])
            events += _system_event(systems, sid, f"{tid}:system", ts, system)
        for m, (role, parts) in enumerate(inputs[boundary:]):
            events += _part_events(sid, f"{tid}:in{m}", ts, role, parts, None)
        tokens = _tokens(
            row["input_tokens"], row["output_tokens"], row["token_details"]
        )
        data = {"duration_ms": row["duration_ms"]} if row["duration_ms"] else {}
        first_out = len(events)
        for m, (role, parts) in enumerate(outputs):
            events += _part_events(sid, f"{tid}:out{m}", ts, role, parts, model)
        carrier = next(
            (i for i in range(first_out, len(events)) if events[i].role == "assistant"),
            None,
        )
        if carrier is None:  # the call's usage needs an event of its own
            events.append(
                make_event(sid, f"{tid}:response", ts, "assistant", "", model=model)
            )
            carrier = len(events) - 1
        events[carrier] = events[carrier].evolve(
            data={**events[carrier].data, **data}, **tokens
        )
        return events


class _Chains:
    """Message chains of llm's content-addressed store, parts resolved."""

    def __init__(self, conn: sqlite3.Connection, fragments: bool) -> None:
        self.conn = conn
        self.fragments = fragments
        self.cache: dict[str, tuple[str | None, str, list[dict[str, Any]]]] = {}

    def message(self, hash: str) -> tuple[str | None, str, list[dict[str, Any]]]:
        found = self.cache.get(hash)
        if found is None:
            row = self.conn.execute(
                "SELECT parent_hash, role FROM messages WHERE hash = ?", (hash,)
            ).fetchone()
            if row is None:
                raise Skip("unknown shape", f"message {hash[:12]} is missing")
            parts = [
                self._part(p)
                for p in self.conn.execute(
                    "SELECT * FROM parts WHERE message_hash = ? ORDER BY position",
                    (hash,),
                )
            ]
            found = self.cache[hash] = (row["parent_hash"], row["role"], parts)
        return found

    def chain(self, tip: str | None) -> list[tuple[str, list[dict[str, Any]]]]:
        """``(role, parts)`` of each message ending at ``tip``, oldest first."""
        out = []
        seen: set[str] = set()
        while tip and tip not in seen:
            seen.add(tip)
            parent, role, parts = self.message(tip)
            out.append((role, parts))
            tip = parent
        return out[::-1]

    def _part(self, row: sqlite3.Row) -> dict[str, Any]:
        try:
            payload = json.loads(row["payload"]) if row["payload"] else {}
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        text = row["text"]
        if text is None and isinstance(payload.get("text_ref"), list):
            text = "".join(self._piece(p) for p in payload["text_ref"])
        if text is None and isinstance(payload.get("text"), str):
            text = payload["text"]
        return {
            "type": row["type"],
            "name": row["tool_name"] or payload.get("name"),
            "text": text or "",
            "payload": payload,
        }

    def _piece(self, piece: Any) -> str:
        if not isinstance(piece, dict):
            return ""
        if "literal" in piece:
            return str(piece["literal"])
        if self.fragments and "fragment" in piece:
            row = self.conn.execute(
                "SELECT content FROM fragments WHERE id = ?", (piece["fragment"],)
            ).fetchone()
            return row[0] if row and row[0] else ""
        return ""


ROLES = {"user": "user", "assistant": "assistant", "tool": "tool", "system": "system"}


def _part_events(
    sid: str,
    key: str,
    ts: str,
    role: str,
    parts: list[dict[str, Any]],
    model: str | None,
) -> list[Event]:
    """The events of one stored message, one per part."""
    events = []
    role = ROLES.get(role, "user")
    for i, part in enumerate(parts):
        ptype, payload = part["type"], part["payload"]
        call_id = payload.get("tool_call_id")
        call_id = call_id if isinstance(call_id, str) else None
        if ptype == "tool_call":
            args = payload.get("arguments")
            events.append(
                make_event(
                    sid,
                    f"{key}:{i}",
                    ts,
                    "assistant",
                    args if isinstance(args, str) else json.dumps(args),
                    kind="tool_call",
                    tool_name=part["name"],
                    tool_call_id=call_id,
                    model=model,
                )
            )
        elif ptype == "tool_result":
            data = (
                {"exception": payload["exception"]} if payload.get("exception") else {}
            )
            output = payload.get("output")
            events.append(
                make_event(
                    sid,
                    f"{key}:{i}",
                    ts,
                    "tool",
                    output if isinstance(output, str) else json.dumps(output),
                    kind="tool_result",
                    tool_name=part["name"],
                    tool_call_id=call_id,
                    data=data,
                )
            )
        else:
            text = part["text"] if ptype in ("text", "reasoning") else f"[{ptype}]"
            kind = "reasoning" if ptype == "reasoning" else "message"
            speaker = "assistant" if role == "tool" else role
            events.append(
                make_event(
                    sid,
                    f"{key}:{i}",
                    ts,
                    speaker,
                    text,
                    kind=kind,
                    model=model if speaker == "assistant" else None,
                )
            )
    return events


def _tokens(input: Any, output: Any, details: Any) -> dict[str, int]:
    """A call's counts in our convention, from llm's columns and ``token_details``.

    OpenAI's ``input_tokens`` already include cached ones
    (``prompt_tokens_details.cached_tokens``); Anthropic's (llm-anthropic
    stores the API's usage) exclude ``cache_read_input_tokens`` and
    ``cache_creation_input_tokens``, which are added.
    """
    tokens = {
        name: count(value)
        for name, value in (("input_tokens", input), ("output_tokens", output))
        if value is not None
    }
    try:
        found = json.loads(details) if isinstance(details, str) else details
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return tokens
    read = count(found.get("cache_read_input_tokens"))
    created = count(found.get("cache_creation_input_tokens"))
    if read or created:
        tokens["input_tokens"] = tokens.get("input_tokens", 0) + read + created
        if read:
            tokens["cached_input_tokens"] = read
        if created:
            tokens["cache_write_tokens"] = created
    prompt = found.get("prompt_tokens_details") or found.get("input_tokens_details")
    if isinstance(prompt, dict) and count(prompt.get("cached_tokens")):
        tokens["cached_input_tokens"] = count(prompt.get("cached_tokens"))
    completion = found.get("completion_tokens_details") or found.get(
        "output_tokens_details"
    )
    if isinstance(completion, dict) and count(completion.get("reasoning_tokens")):
        tokens["reasoning_tokens"] = count(completion.get("reasoning_tokens"))
    return tokens


def _system_event(
    systems: dict[str, str], sid: str, key: str, ts: str, system: str | None
) -> list[Event]:
    """The system prompt as an event when it changed for the session, else nothing.

    The saved state keeps a digest, not the prompt (it may hold a secret);
    states saved by earlier releases hold the prompt itself.
    """
    if not system or systems.get(sid) in (_digest(system), system):
        return []
    systems[sid] = _digest(system)
    return [make_event(sid, key, ts, "system", system)]


def _digest(text: str) -> str:
    return hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()
