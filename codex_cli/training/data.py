"""From logged sessions to a training set.

Sessions are selected with the same query functions the CLI uses, rendered as
chat transcripts and tokenized into fixed-length blocks whose labels cover
only the assistant's tokens (``data.loss_on=assistant``, the default) or every
token (``all``).

The plain template, used when the tokenizer has no chat template (always for
the ``tiny`` model), renders each message as::

    <|user|>
    fix the failing test
    <|end|>

with the role's marker, the content and an end marker, one after the other.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError, UsageError
from ..events import KINDS, ROLES
from ..read import queries
from ..read.export import chat_messages
from ..timeutil import parse_when

END = "<|end|>"
ROLE_MARKERS = {role: f"<|{role}|>" for role in ROLES}
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", END, *ROLE_MARKERS.values()]
LOSS_ON = ("assistant", "all")
TEMPLATES = ("auto", "plain", "chat")
IGNORE_INDEX = -100
#: ``sessions.source`` of the sessions ``codex train`` logs about its own runs.
TRAINING_SOURCE = "codex train"


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` config group, validated."""

    roles: tuple[str, ...] = tuple(ROLES)
    kinds: tuple[str, ...] = ("message", "tool_call", "tool_result")
    sessions: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    tags: tuple[str, ...] = ()
    min_events: int = 2
    max_length: int = 128
    loss_on: str = "assistant"
    template: str = "auto"
    eval_fraction: float = 0.1
    allow_unredacted: bool = False
    #: Sessions logged by ``codex train`` itself are not training data unless asked.
    include_training_runs: bool = False
    sources: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    seed: int = 42

    @classmethod
    def from_dict(cls, values: dict[str, Any], seed: int = 42) -> DataConfig:
        known = set(cls.__dataclass_fields__) - {"seed"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(
                f"data.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})"
            )
        v = dict(values)
        for name, allowed in (("roles", tuple(ROLES)), ("kinds", tuple(KINDS))):
            items = _str_list(v.get(name, getattr(cls, name)), name)
            bad = [x for x in items if x not in allowed]
            if bad or not items:
                raise UsageError(
                    f"data.{name}={bad[0] if bad else items!r}: expected some of "
                    f"{', '.join(allowed)}"
                )
            v[name] = tuple(items)
        v["sessions"] = tuple(_str_list(v.get("sessions") or [], "sessions"))
        for name in ("tags", "sources", "projects"):
            v[name] = tuple(_str_list(v.get(name) or [], name))
        for name in ("since", "until"):
            if v.get(name) is not None:
                v[name] = parse_when(str(v[name]), f"data.{name}")
        for name, low in (("min_events", 1), ("max_length", 8)):
            value = v.get(name, getattr(cls, name))
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise UsageError(
                    f"data.{name}={value!r}: expected a whole number >= {low}"
                )
        fraction = v.get("eval_fraction", cls.eval_fraction)
        if (
            not isinstance(fraction, int | float)
            or isinstance(fraction, bool)
            or not 0 <= fraction < 1
        ):
            raise UsageError(
                f"data.eval_fraction={fraction!r}: expected a number in [0, 1)"
            )
        choices: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("loss_on", LOSS_ON),
            ("template", TEMPLATES),
        )
        for name, allowed in choices:
            if v.get(name, getattr(cls, name)) not in allowed:
                raise UsageError(
                    f"data.{name}={v[name]!r}: expected one of {', '.join(allowed)}"
                )
        for name in ("allow_unredacted", "include_training_runs"):
            if not isinstance(v.get(name, False), bool):
                raise UsageError(f"data.{name}={v[name]!r}: expected true or false")
        return cls(**v, seed=seed)

    def describe(self) -> str:
        """The filters in force, for error messages."""
        parts = [
            f"roles={','.join(self.roles)}",
            f"kinds={','.join(self.kinds)}",
            f"min_events={self.min_events}",
        ]
        for name in ("sessions", "tags", "sources", "projects"):
            if getattr(self, name):
                parts.append(f"{name}={','.join(getattr(self, name))}")
        for name in ("since", "until"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name)}")
        return " ".join(parts)


def _str_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(x, str) for x in value
    ):
        raise UsageError(f"data.{name}={value!r}: expected a list of strings")
    return list(value)


@dataclass
class Conversation:
    """One session as chat messages (``{"role", "content"}``)."""

    session_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        return {"messages": self.messages}


def message_text(message: dict[str, Any]) -> str:
    """A chat message's text for the plain template: tool calls as ``[call NAME] ARGS``."""
    calls = [
        f"[call {c['function']['name']}] {c['function']['arguments']}"
        for c in message.get("tool_calls") or []
    ]
    text = [message["content"]] if message.get("content") else []
    return "\n".join(text + calls)


def select_conversations(
    conn: sqlite3.Connection, config: DataConfig
) -> list[Conversation]:
    """The selected sessions as conversations, oldest session first.

    Raises if redaction was off for any session (unless allowed) or if no
    session matches, naming the filters and how many sessions exist.
    """
    unredacted = queries.count_unredacted_sessions(conn)
    if unredacted and not config.allow_unredacted:
        raise UsageError(
            f"{unredacted} session(s) in the log were written with redaction off "
            "(CODEX_REDACT=0) and may hold secrets: pass data.allow_unredacted=true "
            "to train on them anyway"
        )
    summaries = queries.list_sessions(conn, limit=None, since=config.since)
    total = len(queries.list_sessions(conn, limit=None))
    wanted = set(config.sessions)
    conversations: list[Conversation] = []
    for summary in sorted(summaries, key=lambda s: (s.started_at or "", s.id)):
        if wanted and summary.id not in wanted:
            continue
        if config.until and (summary.started_at or "") > config.until:
            continue
        if config.tags and not set(config.tags) & set(summary.tags):
            continue
        if summary.source == TRAINING_SOURCE and not config.include_training_runs:
            continue
        if config.sources and summary.source not in config.sources:
            continue
        if config.projects and not _in_projects(summary.project, config.projects):
            continue
        events = [
            e
            for e in queries.session_events(conn, summary.id)
            if e.role in config.roles and e.kind in config.kinds and e.content
        ]
        messages = chat_messages(events)  # as `codex log export --format jsonl-chat`
        if len(events) < config.min_events or not messages:
            continue
        conversations.append(Conversation(summary.id, messages))
    if not conversations:
        raise CodexError(
            f"no sessions match the selection ({config.describe()}); "
            f"the log at hand has {total} session(s)"
        )
    return conversations


def _in_projects(project: str | None, wanted: Sequence[str]) -> bool:
    """``project`` is one of ``wanted``: the path or its last component(s), as ``codex log list``."""
    if not project:
        return False
    for name in wanted:
        name = name.rstrip("/")
        if project == name or project.endswith("/" + name):
            return True
    return False


def split(
    conversations: Sequence[Conversation], eval_fraction: float, seed: int
) -> tuple[list[Conversation], list[Conversation]]:
    """A seeded train/eval split by session (never splitting one session)."""
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    n_eval = round(len(order) * eval_fraction)
    if eval_fraction > 0 and len(order) >= 2:
        n_eval = max(1, n_eval)
    n_eval = min(n_eval, len(order) - 1)
    eval_ids = set(order[:n_eval])
    train = [c for i, c in enumerate(conversations) if i not in eval_ids]
    evals = [c for i, c in enumerate(conversations) if i in eval_ids]
    return train, evals


def plain_segments(messages: Iterable[dict[str, Any]]) -> Iterator[tuple[str, bool]]:
    """``(text, is_assistant)`` pieces of the plain template."""
    for message in messages:
        marker = ROLE_MARKERS.get(message["role"], f"<|{message['role']}|>")
        yield f"{marker}\n", False
        yield f"{message_text(message)}\n{END}\n", message["role"] == "assistant"


def chat_segments(
    messages: Sequence[dict[str, Any]], tokenizer: Any
) -> Iterator[tuple[str, bool]]:
    """Pieces of the tokenizer's chat template: each message's share of the text."""
    previous = ""
    for i, message in enumerate(messages):
        text = tokenizer.apply_chat_template(list(messages[: i + 1]), tokenize=False)
        if not text.startswith(previous):  # a template that rewrites earlier turns
            raise CodexError(
                "the model's chat template is not incremental: use data.template=plain"
            )
        yield text[len(previous) :], message["role"] == "assistant"
        previous = text


def uses_chat_template(tokenizer: Any, template: str) -> bool:
    has = bool(getattr(tokenizer, "chat_template", None))
    if template == "chat" and not has:
        raise UsageError(
            "data.template=chat: the model's tokenizer has no chat template"
        )
    return has and template != "plain"


def tokenize_conversation(
    conversation: Conversation, tokenizer: Any, config: DataConfig, chat: bool
) -> tuple[list[int], list[int]]:
    """Token ids and labels (``-100`` where no loss is taken) for one session."""
    segments = (
        chat_segments(conversation.messages, tokenizer)
        if chat
        else plain_segments(conversation.messages)
    )
    ids: list[int] = []
    labels: list[int] = []
    for text, is_assistant in segments:
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        keep = is_assistant or config.loss_on == "all"
        labels += piece if keep else [IGNORE_INDEX] * len(piece)
    eos = tokenizer.eos_token_id
    if eos is not None:
        ids.append(eos)
        labels.append(eos if config.loss_on == "all" else IGNORE_INDEX)
    return ids, labels


def build_blocks(
    conversations: Iterable[Conversation], tokenizer: Any, config: DataConfig
) -> list[dict[str, list[int]]]:
    """Fixed-length blocks (``max_length``), padded, each with some loss to take."""
    chat = uses_chat_template(tokenizer, config.template)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    size = config.max_length
    blocks: list[dict[str, list[int]]] = []
    for conversation in conversations:
        ids, labels = tokenize_conversation(conversation, tokenizer, config, chat)
        for start in range(0, len(ids), size):
            chunk, chunk_labels = (
                ids[start : start + size],
                labels[start : start + size],
            )
            if all(label == IGNORE_INDEX for label in chunk_labels):
                continue
            fill = size - len(chunk)
            blocks.append(
                {
                    "input_ids": chunk + [pad] * fill,
                    "attention_mask": [1] * len(chunk) + [0] * fill,
                    "labels": chunk_labels + [IGNORE_INDEX] * fill,
                }
            )
    return blocks


class BlockDataset:
    """A map-style dataset of token blocks that Trainer and DataLoader accept."""

    def __init__(self, blocks: list[dict[str, list[int]]]) -> None:
        import torch

        self.tensors = (
            {
                key: torch.tensor([b[key] for b in blocks], dtype=torch.long)
                for key in ("input_ids", "attention_mask", "labels")
            }
            if blocks
            else {}
        )
        self.size = len(blocks)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {key: value[index] for key, value in self.tensors.items()}

    @property
    def tokens(self) -> int:
        """Real (unpadded) tokens in the dataset."""
        return int(self.tensors["attention_mask"].sum()) if self.size else 0


def write_jsonl(conversations: Iterable[Conversation], path: Path | None) -> int:
    """Write conversations as chat JSONL (``{"messages": [...]}`` per line); return the count."""
    import sys

    count = 0
    handle = open(path, "w", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
    try:
        for conversation in conversations:
            handle.write(
                json.dumps(conversation.to_record(), ensure_ascii=False) + "\n"
            )
            count += 1
    finally:
        if path:
            handle.close()
    return count


def load_split(
    data_config: DataConfig, settings: Any = None
) -> tuple[list[Conversation], list[Conversation], list[Conversation]]:
    """The selected sessions from the log and their seeded (train, eval) split."""
    conn = queries.open_log(settings)
    try:
        conversations = select_conversations(conn, data_config)
    finally:
        conn.close()
    train, evals = split(conversations, data_config.eval_fraction, data_config.seed)
    return conversations, train, evals


def export_training_set(
    config: Any, which: str, output: Path | None, settings: Any = None
) -> int:
    """Write the sessions ``codex train`` would use (``which``: train, eval, all) as chat JSONL."""
    seed = int(config.values.get("seed", 42))
    data_config = DataConfig.from_dict(config.section("data"), seed=seed)
    conversations, train, evals = load_split(data_config, settings)
    chosen = {"train": train, "eval": evals, "all": conversations}[which]
    return write_jsonl(chosen, output)
