"""The ``llm`` CLI's logs database (``logs.db``).

Every conversation becomes a session (a response without one is a session
of its own). Per response, in order: the system prompt when it changes, the
tool results sent with the prompt, the prompt (``user``), the response
(``assistant``, with the model and token counts) and the tool calls it made.
Responses are read in ``rowid`` order; the last one read is remembered, so
a later import reads only newer responses.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import Iterator

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
        if "responses" not in tables:
            raise Undetected("not an llm logs database", None, "no responses table")
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
        for row in conn.execute(
            "SELECT rowid AS _rowid, * FROM responses WHERE rowid > ? "
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
        if not rid:
            raise Skip("unknown shape", "a response without an id")
        conv_id = row["conversation_id"] or rid
        sid = safe_session_id(conv_id, "llm")
        self.state.setdefault("sid", sid)
        info = self.session(sid)
        conv = conversations.get(conv_id)
        if conv is not None:
            info.merge({"title": conv["name"], "model": conv["model"]})
        model = row["model"]
        info.merge({"model": model})
        ts = timestamp(row["datetime_utc"])
        events: list[Event] = []
        system = row["system"] if "system" in keys else None
        # The saved state keeps a digest, not the prompt (it may hold a
        # secret); states saved before hold the prompt itself.
        if system and systems.get(sid) not in (_digest(system), system):
            systems[sid] = _digest(system)
            events.append(make_event(sid, f"{rid}:system", ts, "system", system))
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
        tokens = {
            name: count(row[name])
            for name in ("input_tokens", "output_tokens")
            if name in keys and row[name] is not None
        }
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


def _digest(text: str) -> str:
    return hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()
