"""Training data files: OpenAI chat fine-tuning JSONL, the Hugging Face layout, the card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from train_helpers import make_log

from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

# OpenAI's documented rules for chat fine-tuning examples (the fine-tuning guide,
# "Preparing your dataset" and the function-calling section, and the checks of
# the cookbook's "Data preparation and analysis for chat model fine-tuning"):
#  1. each line is a JSON object with a non-empty "messages" list; the other
#     top-level keys are "tools", "parallel_tool_calls" (and legacy "functions");
#  2. a message has a "role" among system, user, assistant, tool (function: legacy)
#     and only the keys role, content, name, weight, tool_calls, tool_call_id,
#     function_call;
#  3. "content" is a non-empty string, except on an assistant message that
#     carries tool_calls, where it may be null or absent;
#  4. every example has at least one assistant message;
#  5. "weight" is allowed on assistant messages only, and is 0 or 1;
#  6. "tool_calls" is a list of {"id", "type": "function", "function": {"name",
#     "arguments"}}, the name matching ^[a-zA-Z0-9_-]{1,64}$ and "arguments" a
#     string holding a JSON object;
#  7. each call is answered by a "tool" message with its "tool_call_id", right
#     after the assistant message (before any other role), and a tool message
#     answers a call of that assistant message;
#  8. "tools" is a list of {"type": "function", "function": {"name", "parameters"
#     (a JSON Schema object)}} naming every function that is called.
ROLES = {"system", "user", "assistant", "tool", "function"}
MESSAGE_KEYS = {
    "role",
    "content",
    "name",
    "weight",
    "tool_calls",
    "tool_call_id",
    "function_call",
}
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def openai_problems(example: Any) -> list[str]:
    """Every rule above the example breaks (empty: it is accepted)."""
    if not isinstance(example, dict):
        return ["not an object"]
    problems = []
    extra = set(example) - {"messages", "tools", "parallel_tool_calls", "functions"}
    if extra:
        problems.append(f"unknown top-level keys {extra}")
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "no messages"]
    tools = example.get("tools", [])
    declared = set()
    for tool in tools:
        function = tool.get("function", {})
        if tool.get("type") != "function" or not NAME.match(function.get("name", "")):
            problems.append(f"bad tool {tool}")
        if function.get("parameters", {}).get("type") != "object":
            problems.append(f"tool parameters not an object schema: {tool}")
        declared.add(function.get("name"))
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ROLES:
            problems.append(f"{i}: unknown role {role!r}")
        if set(m) - MESSAGE_KEYS:
            problems.append(f"{i}: unknown keys {set(m) - MESSAGE_KEYS}")
        if "weight" in m and (role != "assistant" or m["weight"] not in (0, 1)):
            problems.append(f"{i}: bad weight")
        content = m.get("content")
        if role == "tool":
            if m.get("tool_call_id") not in open_calls:
                problems.append(f"{i}: tool message answers no open call")
            open_calls.discard(m.get("tool_call_id"))
        elif open_calls:
            problems.append(f"{i}: calls {open_calls} have no result")
            open_calls = set()
        if role == "assistant" and m.get("tool_calls"):
            for call in m["tool_calls"]:
                function = call.get("function", {})
                if call.get("type") != "function" or not call.get("id"):
                    problems.append(f"{i}: bad call {call}")
                if not NAME.match(function.get("name", "")):
                    problems.append(f"{i}: bad function name {function.get('name')}")
                if function.get("name") not in declared:
                    problems.append(f"{i}: {function.get('name')} not in tools")
                try:
                    if not isinstance(json.loads(function.get("arguments")), dict):
                        problems.append(f"{i}: arguments not a JSON object")
                except (TypeError, ValueError):
                    problems.append(f"{i}: arguments not JSON text")
                open_calls.add(call.get("id"))
            if content is not None and not isinstance(content, str):
                problems.append(f"{i}: bad content")
        elif not isinstance(content, str) or not content:
            problems.append(f"{i}: missing content")
    if open_calls:
        problems.append(f"calls {open_calls} have no result")
    if not any(m.get("role") == "assistant" for m in messages):
        problems.append("no assistant message")
    return problems


def ev(sid: str, role: str, content: str, kind: str = "message", **kw: Any) -> Event:
    return Event(session_id=sid, role=role, kind=kind, content=content, **kw)


def call(sid: str, cid: str, command: str, name: str = "shell") -> Event:
    return ev(sid, "assistant", command, "tool_call", tool_name=name, tool_call_id=cid)


def result(sid: str, cid: str, text: str, code: int | None = None) -> Event:
    data = {"exit_code": code} if code is not None else {}
    return ev(sid, "tool", text, "tool_result", tool_call_id=cid, data=data)


def awkward_log(settings: Settings) -> None:
    """Sessions OpenAI used to reject, and ones with outcome signals."""
    events = [
        # Only a user message: no assistant message, no example.
        ev("lonely", "user", "is anyone there?"),
        ev("lonely", "user", "hello?"),
        # A call that was never answered, a result whose call is missing, a dotted name.
        ev("broken", "user", "run the tests"),
        call("broken", "b1", "pytest -q"),
        result("broken", "zz", "orphan result"),
        call("broken", "b2", '{"path": "a.py"}', name="functions.read"),
        result("broken", "b2", "print(1)"),
        ev("broken", "assistant", "The file prints 1."),
        # A failing call, then a fix that passes; the user corrects a turn.
        ev("fixed", "user", "fix the failing test"),
        call("fixed", "f1", "pytest -q"),
        result("fixed", "f1", "1 failed", code=1),
        ev("fixed", "assistant", "I deleted the test."),
        ev("fixed", "user", "no, don't delete tests"),
        ev("fixed", "assistant", "Restored it and fixed the bug instead."),
        call("fixed", "f2", "pytest -q"),
        result("fixed", "f2", "3 passed", code=0),
        ev("fixed", "assistant", "All tests pass."),
    ]
    with SessionLogger("lonely", settings=settings) as logger:
        logger.write(events)


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


def test_log_export_jsonl_chat_passes_openai_rules(cli, settings: Settings) -> None:
    awkward_log(settings)
    make_log(settings, 2)
    result = cli("log", "export", "--all", "--format", "jsonl-chat")
    assert result.exit_code == 0, result.output
    examples = records(result.stdout)
    assert len(examples) == 4  # "lonely" has no assistant message
    for example in examples:
        assert openai_problems(example) == [], example
    broken = next(e for e in examples if "run the tests" in json.dumps(e))
    calls = [c for m in broken["messages"] for c in m.get("tool_calls") or []]
    assert [c["function"]["name"] for c in calls] == ["functions_read"]
    assert broken["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "functions_read",
                "parameters": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                },
            },
        }
    ]
    # The validator does catch what used to be exported.
    assert "no assistant message" in openai_problems(
        {"messages": [{"role": "user", "content": "hi"}]}
    )
    unanswered = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [calls[0]]},
        ],
        "tools": broken["tools"],
    }
    assert any("no result" in p for p in openai_problems(unanswered))


def test_export_data_weights_turns_and_writes_a_card(
    cli, settings: Settings, tmp_path: Path
) -> None:
    awkward_log(settings)
    out, card = tmp_path / "train.jsonl", tmp_path / "train.md"
    result = cli(
        "train",
        "export-data",
        "--split=all",
        "-o",
        str(out),
        "--card",
        str(card),
        "data.eval_fraction=0",
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 2 session(s)" in result.output
    examples = records(out.read_text(encoding="utf-8"))
    assert all(openai_problems(e) == [] for e in examples)
    fixed = next(e for e in examples if "fix the failing" in json.dumps(e))
    weights = [
        (m.get("content") or "call", m.get("weight", 1))
        for m in fixed["messages"]
        if m["role"] == "assistant"
    ]
    # The failing call and the corrected turn are context, not lessons.
    assert weights == [
        ("call", 0),
        ("I deleted the test.", 0),
        ("Restored it and fixed the bug instead.", 1),
        ("call", 1),
        ("All tests pass.", 1),
    ]
    learn = cli(
        "train",
        "export-data",
        "--split=all",
        "data.failed_calls=learn",
        "data.corrected_turns=learn",
    )
    assert "weight" not in learn.stdout
    text = card.read_text(encoding="utf-8")
    assert "- sessions: 2" in text and "- unlearned turns: 2" in text
    assert "- train: `fixed`" in text and '`failed_calls`: `"skip"`' in text
    sha = re.search(r"sha256 of the selection: `([0-9a-f]{64})`", text)
    assert sha and sha.group(1)[:12] in result.output
    again = cli(
        "train",
        "export-data",
        "--split=all",
        "-o",
        str(tmp_path / "b"),
        "data.eval_fraction=0",
    )
    assert sha.group(1)[:12] in again.output  # the same selection, the same hash
    other = cli("train", "export-data", "--split=all", "-o", str(tmp_path / "c"))
    assert sha.group(1)[:12] not in other.output  # another split, another hash


def test_hugging_face_layout_loads_with_datasets(
    cli, settings: Settings, tmp_path: Path
) -> None:
    awkward_log(settings)
    make_log(settings, 3)
    out = tmp_path / "hf.jsonl"
    result = cli(
        "train", "export-data", "--split=all", "--format", "hf", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    from datasets import load_dataset

    dataset = load_dataset("json", data_files=str(out), split="train")
    assert dataset.num_rows == 5 and {"messages", "tools"} <= set(dataset.features)
    row = next(r for r in dataset if "functions.read" not in json.dumps(r))
    [call] = next(m for m in row["messages"] if m.get("tool_calls"))["tool_calls"]
    assert isinstance(call["function"]["arguments"], dict)  # as chat templates want
    assert all("weight" not in m for r in dataset for m in r["messages"])
    bad = cli("train", "export-data", "--format", "parquet")
    assert bad.exit_code == 2 and "expected one of openai, hf" in bad.output


def test_outcome_filters(cli, settings: Settings) -> None:
    awkward_log(settings)
    make_log(settings, 2)

    def kept(*overrides: str) -> list[str]:
        out = cli("train", "export-data", "--split=all", *overrides)
        assert out.exit_code in (0, 1), out.output
        return sorted(
            m["content"][:12] for r in records(out.stdout) for m in r["messages"][:1]
        )

    everything = kept()
    assert len(everything) == 4
    assert kept("data.last_test=passed") == ["fix the fail"]
    assert len(kept("data.last_test=none")) == 3
    assert "fix the fail" not in kept("data.drop_corrected=true")
    assert "fix the fail" not in kept("data.max_failing_streak=1")
    assert len(kept("data.max_failing_streak=2")) == 4
    assert kept("data.sessions=[broken]", "data.drop_abandoned=true") == [
        "run the test"
    ]
    bad = cli("train", "export-data", "data.last_test=green")
    assert (
        bad.exit_code == 2 and "expected one of any, passed, failed, none" in bad.output
    )
