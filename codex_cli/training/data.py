"""From logged sessions to a training set.

Sessions are selected with the same query functions the CLI uses, rendered as
chat transcripts and tokenized into fixed-length blocks whose labels cover
only the assistant's tokens (``data.loss_on=assistant``, the default) or every
token (``all``).

The plain template, used when the tokenizer has no chat template (always for
the ``tiny`` model; a chat template is TRL's to render and mask), renders
each message as::

    <|user|>
    fix the failing test
    <|end|>

with the role's marker, the content and an end marker, one after the other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CodexError, UsageError
from ..events import KINDS, ROLES, Event
from ..read import queries
from ..read.export import (
    chat_example,
    chat_messages,
    failed_result,
    hf_example,
    is_correction,
)
from ..timeutil import parse_when

END = "<|end|>"
ROLE_MARKERS = {role: f"<|{role}|>" for role in ROLES}
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", END, *ROLE_MARKERS.values()]
LOSS_ON = ("assistant", "all")
TURN_CHOICES = ("skip", "learn")
LAST_TEST = ("any", "passed", "failed", "none")
#: A shell command that runs a test suite (the "last test run" signal).
TEST_COMMAND = re.compile(
    r"\b(pytest|py\.test|tox|nox|unittest|jest|vitest|mocha|rspec|phpunit|ctest|"
    r"(npm|pnpm|yarn|bun|cargo|go|dotnet|mvn|gradle|make|mix|deno) (run )?test)\b"
)
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
    #: Assistant turns not to learn from (``weight: 0``): ``skip`` or ``learn``.
    failed_calls: str = "skip"
    corrected_turns: str = "skip"
    #: Outcome filters (docs/training.md): ``null`` keeps every session.
    max_failing_streak: int | None = None
    last_test: str = "any"
    drop_corrected: bool = False
    drop_abandoned: bool = False
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
            ("failed_calls", TURN_CHOICES),
            ("corrected_turns", TURN_CHOICES),
            ("last_test", LAST_TEST),
        )
        for name, allowed in choices:
            if v.get(name, getattr(cls, name)) not in allowed:
                raise UsageError(
                    f"data.{name}={v[name]!r}: expected one of {', '.join(allowed)}"
                )
        streak = v.get("max_failing_streak")
        if streak is not None and (
            not isinstance(streak, int) or isinstance(streak, bool) or streak < 1
        ):
            raise UsageError(
                f"data.max_failing_streak={streak!r}: expected a whole number >= 1 or null"
            )
        for name in (
            "allow_unredacted",
            "include_training_runs",
            "drop_corrected",
            "drop_abandoned",
        ):
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
        for name in ("since", "until", "max_failing_streak"):
            if getattr(self, name):
                parts.append(f"{name}={getattr(self, name)}")
        for name in ("drop_corrected", "drop_abandoned"):
            if getattr(self, name):
                parts.append(f"{name}=true")
        if self.last_test != "any":
            parts.append(f"last_test={self.last_test}")
        return " ".join(parts)

    def filters(self) -> dict[str, Any]:
        """The selection as plain values (dataset card, MLflow)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()
        }


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
    """One session as an OpenAI chat example: ``messages`` (and the ``tools`` they call)."""

    session_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)

    def to_record(self, fmt: str = "openai") -> dict[str, Any]:
        """The example in ``fmt``: ``openai`` (fine-tuning API) or ``hf`` (datasets, TRL)."""
        record: dict[str, Any] = {"messages": self.messages}
        if self.tools:
            record["tools"] = self.tools
        return hf_example(record) if fmt == "hf" else record


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
        every = queries.session_events(conn, summary.id)
        if not outcome_ok(every, config):
            continue
        events = [
            e
            for e in every
            if e.role in config.roles and e.kind in config.kinds and e.content
        ]
        # The same examples as `codex log export --format jsonl-chat`.
        example = chat_example(
            chat_messages(
                events,
                skip_failed_calls=config.failed_calls == "skip",
                skip_corrected=config.corrected_turns == "skip",
            )
        )
        if len(events) < config.min_events or example is None:
            continue
        conversations.append(
            Conversation(summary.id, example["messages"], example.get("tools", []))
        )
    if not conversations:
        raise CodexError(
            f"no sessions match the selection ({config.describe()}); "
            f"the log at hand has {total} session(s)"
        )
    return conversations


def failing_streak(events: Sequence[Event]) -> int:
    """The longest run of consecutive failing tool results."""
    longest = current = 0
    for event in events:
        if event.kind != "tool_result":
            continue
        current = current + 1 if failed_result(event) else 0
        longest = max(longest, current)
    return longest


def last_test_outcome(events: Sequence[Event]) -> str:
    """``passed``/``failed`` by the exit code of the last test command, else ``none``."""
    calls = {
        e.tool_call_id: e
        for e in events
        if e.kind == "tool_call" and e.tool_call_id and TEST_COMMAND.search(e.content)
    }
    outcome = "none"
    for event in events:
        if event.kind == "tool_result" and event.tool_call_id in calls:
            data = event.data or {}
            if "exit_code" in data or "is_error" in data:
                outcome = "failed" if failed_result(event) else "passed"
    return outcome


def abandoned(events: Sequence[Event]) -> bool:
    """The session ends on the user's word or a failing result: nobody finished it."""
    last = next(
        (
            e
            for e in reversed(events)
            if e.kind in ("message", "tool_call", "tool_result") and e.content
        ),
        None,
    )
    if last is None:
        return True
    return last.role == "user" or (last.kind == "tool_result" and failed_result(last))


def outcome_ok(events: Sequence[Event], config: DataConfig) -> bool:
    """The session passes the outcome filters (streaks, tests, corrections, abandonment)."""
    if (
        config.max_failing_streak
        and failing_streak(events) >= config.max_failing_streak
    ):
        return False
    if config.last_test != "any" and last_test_outcome(events) != config.last_test:
        return False
    if config.drop_corrected and any(
        e.role == "user" and e.kind == "message" and is_correction(e.content)
        for e in events[1:]
    ):
        return False
    return not (config.drop_abandoned and abandoned(events))


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


def learned(message: dict[str, Any]) -> bool:
    """An assistant turn to take loss on (not one marked ``weight: 0``)."""
    return message["role"] == "assistant" and message.get("weight", 1) != 0


def plain_segments(messages: Iterable[dict[str, Any]]) -> Iterator[tuple[str, bool]]:
    """``(text, is_assistant)`` pieces of the plain template."""
    for message in messages:
        marker = ROLE_MARKERS.get(message["role"], f"<|{message['role']}|>")
        yield f"{marker}\n", False
        yield f"{message_text(message)}\n{END}\n", learned(message)


def uses_chat_template(tokenizer: Any, template: str) -> bool:
    has = bool(getattr(tokenizer, "chat_template", None))
    if template == "chat" and not has:
        raise UsageError(
            "data.template=chat: the model's tokenizer has no chat template"
        )
    return has and template != "plain"


def tokenize_conversation(
    conversation: Conversation, tokenizer: Any, config: DataConfig
) -> tuple[list[int], list[int]]:
    """Token ids and labels (``-100`` where no loss is taken) for one session, plain template."""
    ids: list[int] = []
    labels: list[int] = []
    for text, is_assistant in plain_segments(conversation.messages):
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
    """Fixed-length blocks (``max_length``) of the plain template, padded, each with some loss.

    For models without a chat template (``tiny``, or ``data.template=plain``);
    a chat template is rendered and masked by TRL (:mod:`codex_cli.training.lora`).
    """
    uses_chat_template(tokenizer, config.template)  # data.template=chat needs one
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    size = config.max_length
    blocks: list[dict[str, list[int]]] = []
    for conversation in conversations:
        ids, labels = tokenize_conversation(conversation, tokenizer, config)
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


EXPORT_FORMATS = ("openai", "hf")


def write_jsonl(
    conversations: Iterable[Conversation], path: Path | None, fmt: str = "openai"
) -> int:
    """Write conversations as chat JSONL, one example per line; return the count."""
    import sys

    count = 0
    handle = open(path, "w", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
    try:
        for conversation in conversations:
            handle.write(
                json.dumps(conversation.to_record(fmt), ensure_ascii=False) + "\n"
            )
            count += 1
    finally:
        if path:
            handle.close()
    return count


@dataclass
class DatasetInfo:
    """What a training set is made of: the provenance a run and a dataset card record."""

    sha256: str
    filters: dict[str, Any]
    train_sessions: list[str]
    eval_sessions: list[str]
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def dataset_info(
    train: Sequence[Conversation], evals: Sequence[Conversation], config: DataConfig
) -> DatasetInfo:
    """Counts, filters, session ids and a hash of the examples (train then eval, OpenAI layout)."""
    digest = hashlib.sha256()
    for name, part in (("train", train), ("eval", evals)):
        for conversation in part:
            line = json.dumps(
                {"split": name, "session_id": conversation.session_id}
                | conversation.to_record(),
                ensure_ascii=False,
                sort_keys=True,
            )
            digest.update(line.encode("utf-8") + b"\n")
    messages = [m for c in [*train, *evals] for m in c.messages]
    assistant = [m for m in messages if m["role"] == "assistant"]
    counts = {
        "sessions": len(train) + len(evals),
        "train_sessions": len(train),
        "eval_sessions": len(evals),
        "messages": len(messages),
        "assistant_turns": len(assistant),
        "unlearned_turns": sum(1 for m in assistant if m.get("weight", 1) == 0),
        "tool_calls": sum(len(m.get("tool_calls") or []) for m in assistant),
    }
    return DatasetInfo(
        sha256=digest.hexdigest(),
        filters=config.filters(),
        train_sessions=[c.session_id for c in train],
        eval_sessions=[c.session_id for c in evals],
        counts=counts,
    )


def dataset_card(info: DatasetInfo, which: str, fmt: str) -> str:
    """A Markdown dataset card (YAML front matter as the Hugging Face Hub reads it)."""
    lines = [
        "---",
        "task_categories: [text-generation]",
        "tags: [agent-traces, tool-calling, codex-cli]",
        "---",
        "",
        "# Agent sessions exported by `codex train export-data`",
        "",
        f"- split: `{which}`; layout: `{fmt}` "
        + (
            "(OpenAI chat fine-tuning: `messages`, `tools`, `weight: 0` on turns "
            "not to learn from)"
            if fmt == "openai"
            else "(Hugging Face / TRL: `messages` + `tools`, arguments as objects)"
        ),
        f"- sha256 of the selection: `{info.sha256}`",
        "",
        "## Counts",
        "",
        *[f"- {k.replace('_', ' ')}: {v}" for k, v in info.counts.items()],
        "",
        "## Filters (the `data` config group)",
        "",
        *[f"- `{k}`: `{json.dumps(v)}`" for k, v in info.filters.items()],
        "",
        "## Source sessions",
        "",
        *[f"- train: `{sid}`" for sid in info.train_sessions],
        *[f"- eval: `{sid}`" for sid in info.eval_sessions],
        "",
    ]
    return "\n".join(lines)


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
    config: Any,
    which: str,
    output: Path | None,
    settings: Any = None,
    *,
    fmt: str = "openai",
    card: Path | None = None,
) -> DatasetInfo:
    """Write the sessions ``codex train`` would use (``which``: train, eval, all) as chat JSONL.

    ``fmt`` is ``openai`` or ``hf``; ``card``, when given, receives the dataset card.
    """
    if fmt not in EXPORT_FORMATS:
        raise UsageError(
            f"--format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}"
        )
    seed = int(config.values.get("seed", 42))
    data_config = DataConfig.from_dict(config.section("data"), seed=seed)
    conversations, train, evals = load_split(data_config, settings)
    parts = {"train": (train, []), "eval": ([], evals), "all": (train, evals)}[which]
    info = dataset_info(*parts, data_config)
    chosen = {"train": train, "eval": evals, "all": conversations}[which]
    try:
        write_jsonl(chosen, output, fmt)
        if card is not None:
            card.write_text(dataset_card(info, which, fmt), encoding="utf-8")
    except OSError as exc:
        raise CodexError(f"cannot write {exc.filename}: {exc.strerror}") from None
    return info
