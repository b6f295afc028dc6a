"""OpenCode's sessions, and the one mapping of its messages and parts to events.

OpenCode keeps a session as a session record, its messages (one per user
prompt or assistant turn) and each message's parts, in two stores:

- until 1.1 (``MessageV2`` of 0.3 - 1.1.65), pretty-printed JSON files
  under ``~/.local/share/opencode/storage/``, read by :class:`OpenCodeParser`:

  - ``session/<project>/<ses_…>.json``: id, title, directory, version,
    ``parentID`` (a sub-agent's parent), ``time.created`` (ms);
  - ``message/<ses_…>/<msg_…>.json``: role, time, and for the assistant
    ``modelID``, ``providerID``, ``path.cwd``, ``cost`` and ``tokens``;
  - ``part/<msg_…>/<prt_…>.json``: the content, in id (= time) order:
    ``text``, ``reasoning``, ``tool`` (call and result together:
    ``callID``, ``tool``, ``state.input`` / ``output`` / ``error``),
    ``file``, ``step-start`` and ``step-finish`` (one model call, with its
    own ``tokens`` and ``cost``), ``patch``, ``compaction``, ``subtask`` ...

- since 1.2.0 (February 2026), the SQLite database ``opencode.db``, read by
  :mod:`.opencode_db`: its ``message.data`` and ``part.data`` are these same
  records without their ids (``json-migration.ts`` moved the files over
  as they were).

Both go through :func:`session_event` and :func:`message_events`, so a
message gives the same events, with the same ids, from either store: an
install that still has ``storage/`` beside its database is not counted twice.

A message file is read with its parts. A part file alone is read only when
it changed after its message (OpenCode writes a user message before its
parts); otherwise its message covered it. A session file gives the
session's title, directory and parent.

Tokens: OpenCode stores ``input`` without the cache (it subtracts
``cache.read`` and ``cache.write``) and ``reasoning`` apart from ``output``
(both billed at the output rate, ``Session.getUsage``). A message's
``tokens`` are only its *last* model call (``assistantMessage.tokens =
usage.tokens`` per step), so each ``step-finish`` part is counted, on the
first event of its step; a message without them counts its ``tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    whole_file_problems,
)

MAX_FILE_BYTES = 64 * 1024 * 1024


# -- the mapping both stores share ---------------------------------------------


def session_event(record: dict[str, Any]) -> tuple[Event, dict[str, str]]:
    """A session record's ``meta`` event, and the attributes it gives the session."""
    sid = safe_session_id(record["id"], "opencode")
    ts = _ms(_obj(record.get("time")).get("created"), None)
    attributes: dict[str, str] = {}
    for key, name in (
        ("title", "title"),
        ("cwd", "directory"),
        ("parent_session_id", "parentID"),
    ):
        if isinstance(record.get(name), str) and record[name]:
            attributes[key] = record[name]
    if "parent_session_id" in attributes:
        attributes["parent_session_id"] = safe_session_id(
            attributes["parent_session_id"], "opencode"
        )
    version = record.get("version")
    content = f"OpenCode {version} session" if version else "OpenCode session"
    if attributes.get("cwd"):
        content += f" in {attributes['cwd']}"
    data = {k: record[k] for k in ("version", "projectID") if record.get(k)}
    event = make_event(sid, "meta", ts, "system", content, kind="meta", data=data)
    return event, attributes


# What OpenCode keeps in its data directory (``~/.local/share/opencode``):
# of ``storage/`` these folders hold sessions; the rest, and the data
# directory's other folders (logs, snapshots: git objects, tools it
# downloaded), do not.
STORAGE_READ = {"session", "message", "part", "project"}
DATA_NOT_READ = {"log", "snapshot", "bin", "tool-output"}


def is_side_file(path: Path) -> bool:
    """A file in OpenCode's data directory that is neither a session file nor its database."""
    parts = path.parts
    for i, part in enumerate(parts[:-1]):
        if part == "storage" and i and parts[i - 1] == "opencode":
            return parts[i + 1] not in STORAGE_READ  # storage/migration too
        if part in DATA_NOT_READ and i and parts[i - 1] == "opencode":
            return True
    return False


@dataclass
class MessageRead:
    """What one message and its parts gave."""

    session_id: str
    events: list[Event]
    model: str | None = None
    cwd: str | None = None
    #: sub-agent sessions this message started: session id -> the task call's id
    children: dict[str, str] = field(default_factory=dict)
    #: no more parts or usage will come (a user message, a completed reply)
    complete: bool = True


def message_events(
    message: dict[str, Any],
    parts: Iterable[Any],
    memo: dict[str, list[Any]],
    ignore: Callable[[str], object],
) -> MessageRead:
    """The events of one message (a record with ``id`` and ``sessionID``) and its parts.

    ``parts`` are part records in id order (anything but a JSON object is an
    unreadable part). ``memo`` remembers, across reads of a message that is
    still being written, the pieces already written (``done``) and the steps
    whose usage was counted (``counted``); it is updated in place. Raises
    :class:`Skip` for a message this mapping cannot use.
    """
    mid = message["id"]
    if not isinstance(mid, str):
        raise Skip("unknown shape", "a message without an id")
    if not isinstance(message.get("sessionID"), str):
        raise Skip("unknown shape", "a message without sessionID")
    sid = safe_session_id(message["sessionID"], "opencode")
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise Skip("unknown role", repr(role))
    times = _obj(message.get("time"))
    ts = _ms(times.get("created"), None)
    model = message.get("modelID")
    provider = message.get("providerID")
    if not isinstance(model, str) and isinstance(message.get("model"), dict):
        model, provider = message["model"].get("modelID"), message["model"].get(
            "providerID"
        )
    model = model if isinstance(model, str) else None
    provider = provider if isinstance(provider, str) else None
    read = MessageRead(sid, [], model=model if role == "assistant" else None)
    read.complete = role == "user" or bool(times.get("completed"))
    where = message.get("path")
    if isinstance(where, dict) and isinstance(where.get("cwd"), str):
        read.cwd = where["cwd"]
    pieces: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    step = 0
    for part in parts:
        if not isinstance(part, dict):
            ignore("unreadable part")
            continue
        ptype = part.get("type")
        if ptype == "step-start":
            step += 1
            continue
        if ptype == "step-finish":
            tokens = _tokens(part.get("tokens"))
            if tokens:
                steps.append(_with_cost(tokens, part.get("cost")))
                holder = next(
                    (p for p in pieces if p["step"] == step and "tokens_of" not in p),
                    None,
                )
                if holder is None:
                    pieces.append(
                        _usage_piece(str(part.get("id")), ts, step, len(steps))
                    )
                else:
                    holder["tokens_of"] = len(steps)
            continue
        pieces += _part(part, role, ts, step, ignore, read.children)
    if not steps and role == "assistant":
        tokens = _tokens(message.get("tokens"))
        if tokens:
            steps.append(_with_cost(tokens, message.get("cost")))
            if pieces:
                pieces[0]["tokens_of"] = 1
            else:
                pieces.append(_usage_piece("tokens", ts, 0, 1))
    done = set(memo.get("done", []))
    counted = set(memo.get("counted", []))
    new = [p for p in pieces if p["key"] not in done]
    for p in pieces:  # usage already counted on a piece written before
        if p.get("tokens_of") in counted:
            del p["tokens_of"]
    for n in range(1, len(steps) + 1):
        if n in counted or any(p.get("tokens_of") == n for p in new):
            continue
        holder = next((p for p in new if not p.get("tokens_of")), None)
        if holder is None:
            holder = _usage_piece(f"usage:{n}", ts, 0, n)
            new.append(holder)
        holder["tokens_of"] = n
    for piece in new:
        fields = dict(piece["fields"])
        if piece.get("tokens_of"):
            usage = dict(steps[piece["tokens_of"] - 1])
            cost = usage.pop("cost", None)
            fields.update(usage)
            if cost is not None:  # as OpenCode priced the call, for comparison
                fields["data"] = {**fields.get("data", {}), "cost": cost}
            counted.add(piece["tokens_of"])
        if piece["role"] == "assistant":
            fields.setdefault("model", model)
            fields.setdefault("provider", provider)
        read.events.append(
            make_event(
                sid,
                f"{mid}:{piece['key']}",
                piece["ts"],
                piece["role"],
                piece["content"],
                **fields,
            )
        )
    memo["done"] = sorted(done | {p["key"] for p in new})
    memo["counted"] = sorted(counted)
    return read


def _part(
    part: dict[str, Any],
    role: str,
    ts: str,
    step: int,
    ignore: Callable[[str], object],
    children: dict[str, str],
) -> list[dict[str, Any]]:
    """The pieces (future events) of one content part."""
    ptype, pid = part.get("type"), str(part.get("id"))
    times = _obj(part.get("time"))
    when = _ms(times.get("start"), ts)

    def piece(
        key: str, at: str, who: str, content: str, **fields: Any
    ) -> dict[str, Any]:
        return {
            "key": key,
            "ts": at,
            "role": who,
            "content": content,
            "fields": fields,
            "step": step,
        }

    if ptype == "text":
        text = part.get("text") if isinstance(part.get("text"), str) else ""
        if not text:
            return []
        flags = {k: True for k in ("synthetic", "ignored") if part.get(k)}
        if flags:
            return [piece(pid, when, role, text, kind="meta", data=flags)]
        return [piece(pid, when, role, text)]
    if ptype == "reasoning":
        text = part.get("text") if isinstance(part.get("text"), str) else ""
        return [piece(pid, when, "assistant", text, kind="reasoning")] if text else []
    if ptype == "tool":
        state = _obj(part.get("state"))
        name = part.get("tool") if isinstance(part.get("tool"), str) else None
        cid = part.get("callID") if isinstance(part.get("callID"), str) else pid
        stimes = _obj(state.get("time"))
        start = _ms(stimes.get("start"), ts)
        if state.get("status") == "pending":
            return []  # its input is still streaming: written once it runs
        child = _obj(state.get("metadata")).get("sessionId")
        if name == "task" and isinstance(child, str) and child:
            # the task tool runs a sub-agent in a session of its own
            children[safe_session_id(child, "opencode")] = str(cid)
        out = [
            piece(
                f"{pid}:call",
                start,
                "assistant",
                json.dumps(state.get("input"), ensure_ascii=False),
                kind="tool_call",
                tool_name=name,
                tool_call_id=cid,
            )
        ]
        status = state.get("status")
        if status in ("completed", "error"):
            data: dict[str, Any] = {"status": status}
            if isinstance(state.get("title"), str) and state["title"]:
                data["title"] = state["title"]
            if status == "error":
                data["is_error"] = True
            text = state.get("output") if status == "completed" else state.get("error")
            end = _ms(stimes.get("end"), start)
            out.append(
                piece(
                    f"{pid}:result",
                    end,
                    "tool",
                    text if isinstance(text, str) else "",
                    kind="tool_result",
                    tool_name=name,
                    tool_call_id=cid,
                    data=data,
                )
            )
        return out
    if ptype == "file":
        label = part.get("filename") or part.get("url") or ""
        return [
            piece(pid, when, role, f"[file {part.get('mime', '')}] {label}".strip())
        ]
    if ptype == "compaction":
        return [
            piece(
                pid,
                when,
                "system",
                "Conversation compacted",
                kind="meta",
                data={"type": "compaction"},
            )
        ]
    if ptype == "subtask":
        prompt = str(part.get("prompt") or "")
        data = {
            k: part[k] for k in ("agent", "description") if isinstance(part.get(k), str)
        }
        return [
            piece(
                pid, when, role, prompt, kind="meta", data={"type": "subtask", **data}
            )
        ]
    ignore(f"part {ptype}")
    return []


# -- the JSON files -------------------------------------------------------------


class OpenCodeParser(Parser):
    """One file of OpenCode's JSON storage (OpenCode 0.3 - 1.1)."""

    format = "opencode"
    reads_file = True

    def read(self) -> Iterator[Event | Problem]:
        """The events this file adds: a session's meta event, or a message's."""
        record = _load(self.path, required=True)
        ident = record.get("id") if isinstance(record, dict) else None
        if not isinstance(ident, str):
            raise Undetected("unknown shape", None, "an OpenCode file without an id")
        with whole_file_problems():
            if ident.startswith("ses_"):
                yield from self._session(record)
            elif ident.startswith("msg_"):
                yield from self._message(self.path, record)
            elif ident.startswith("prt_"):
                yield from self._part_file(record)
            elif "worktree" in record:
                self.ignore("project")
            else:
                raise Skip("unknown shape", f"an OpenCode file with id {ident[:40]!r}")

    def _session(self, record: dict[str, Any]) -> list[Event]:
        event, attributes = session_event(record)
        self.state["sid"] = event.session_id
        self.session(event.session_id).merge(attributes)
        return [event]

    def _part_file(self, part: dict[str, Any]) -> Iterator[Event]:
        sid, mid = part.get("sessionID"), part.get("messageID")
        if not isinstance(sid, str) or not isinstance(mid, str):
            raise Skip("unknown shape", "a part without sessionID or messageID")
        # part/<msg>/<prt>.json, or before OpenCode's storage migration
        # project/<p>/storage/session/part/<ses>/<msg>/<prt>.json
        places = [p / "message" / sid / f"{mid}.json" for p in self.path.parents[2:4]]
        message_path = next((p for p in places if p.exists()), places[0])
        try:
            newer = message_path.stat().st_mtime_ns >= self.path.stat().st_mtime_ns
        except OSError:
            self.ignore("part without its message")
            return
        if newer:
            self.ignore("part (read with its message)")
            return
        message = _load(message_path, required=False)
        if isinstance(message, dict):
            yield from self._message(message_path, message)

    def _message(self, path: Path, message: dict[str, Any]) -> list[Event]:
        mid = message["id"]
        sid = message.get("sessionID")
        root = path.parents[2]
        parts_dir = root / "part" / mid
        if not parts_dir.is_dir() and isinstance(sid, str):
            # before the storage migration: part/<ses>/<msg>/
            parts_dir = root / "part" / sid / mid
        files = sorted(parts_dir.glob("*.json")) if parts_dir.is_dir() else []
        memo = {
            "done": self.state.get("done", {}).get(mid, []),
            "counted": self.state.get("counted", {}).get(mid, []),
        }
        read = message_events(
            message, (_load(p, required=False) for p in files), memo, self.ignore
        )
        self.state.setdefault("sid", read.session_id)
        self.session(read.session_id).merge({"model": read.model, "cwd": read.cwd})
        for child, call in read.children.items():
            self.session(child).merge(
                {"parent_session_id": read.session_id, "parent_tool_call_id": call}
            )
        self.state.setdefault("done", {})[mid] = memo["done"]
        self.state.setdefault("counted", {})[mid] = memo["counted"]
        return read.events


def _with_cost(tokens: dict[str, int], cost: Any) -> dict[str, Any]:
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0:
        return {**tokens, "cost": cost}
    return dict(tokens)


def _usage_piece(key: str, ts: str, step: int, n: int) -> dict[str, Any]:
    return {
        "key": f"usage:{key}",
        "ts": ts,
        "role": "assistant",
        "content": "",
        "fields": {"kind": "meta", "data": {"type": "usage"}},
        "step": step,
        "tokens_of": n,
    }


def _tokens(tokens: Any) -> dict[str, int]:
    if not isinstance(tokens, dict):
        return {}
    cache = _obj(tokens.get("cache"))
    fresh, out, reasoning = (
        count(tokens.get(k)) for k in ("input", "output", "reasoning")
    )
    read, write = count(cache.get("read")), count(cache.get("write"))
    if not (fresh or out or reasoning or read or write):
        return {}
    return {
        "input_tokens": fresh + read + write,
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "output_tokens": out + reasoning,
        "reasoning_tokens": reasoning,
    }


def _ms(value: Any, fallback: str | None) -> str:
    """An OpenCode time (milliseconds since the epoch) in our form."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timestamp(value / 1000, fallback)
    return timestamp(None, fallback)


def _load(path: Path, required: bool) -> Any:
    """A JSON file's value; a bad one raises :class:`Undetected` if ``required``, else is ``None``."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"over {MAX_FILE_BYTES} bytes")
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        if not required:
            return None
        if isinstance(exc, OSError):
            raise
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not JSON"
        raise Undetected(reason, None, str(exc)[:200]) from None


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}
