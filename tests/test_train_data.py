"""The training set: selection through the query API, rendering, loss mask, split, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import make_log

from codex_cli.errors import CodexError, UsageError
from codex_cli.read import queries
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger
from codex_cli.training.data import (
    IGNORE_INDEX,
    DataConfig,
    build_blocks,
    select_conversations,
    split,
)
from codex_cli.training.tokenizer import train_bpe


def select(settings: Settings, **values) -> list:
    conn = queries.open_log(settings)
    try:
        return select_conversations(conn, DataConfig.from_dict(values))
    finally:
        conn.close()


def test_sessions_become_chat_conversations(settings: Settings) -> None:
    make_log(settings, 3)
    conversations = select(settings)
    assert [c.session_id for c in conversations] == ["s000", "s001", "s002"]
    roles = [m["role"] for m in conversations[0].messages]
    assert roles == ["user", "assistant", "assistant", "tool", "assistant"]
    [call] = conversations[0].messages[2]["tool_calls"]
    assert call["function"] == {
        "name": "shell",
        "arguments": call["function"]["arguments"],
    }
    assert json.loads(call["function"]["arguments"])["input"].startswith("cat ")
    assert conversations[0].messages[3]["tool_call_id"] == call["id"]


def test_filters(settings: Settings) -> None:
    make_log(settings, 3, prefix="a")
    make_log(settings, 2, prefix="b", tags=["good"])
    with SessionLogger("short", settings=settings) as logger:
        logger.log("user", "hi")
    assert len(select(settings)) == 5  # the one-event session is below min_events
    # Still 5: a session with no assistant message has nothing to learn from.
    assert len(select(settings, min_events=1)) == 5
    assert [c.session_id for c in select(settings, tags=["good"])] == ["b000", "b001"]
    assert [c.session_id for c in select(settings, sessions=["a001"])] == ["a001"]
    # User messages alone are no example: there is no assistant turn to learn.
    with pytest.raises(CodexError, match="no sessions match the selection"):
        select(settings, roles=["user"], min_events=1)
    assert len(select(settings, kinds=["message"])[0].messages) == 3
    assert select(settings, since="2000-01-01", until="2999-01-01")


def test_no_match_names_filters_and_count(settings: Settings) -> None:
    make_log(settings, 4)
    with pytest.raises(CodexError) as info:
        select(settings, tags=["nope"], since="2999-01-01")
    message = str(info.value)
    assert "tags=nope" in message and "since=2999-01-01" in message
    assert "has 4 session(s)" in message


def test_refuses_unredacted_log_unless_allowed(settings: Settings) -> None:
    make_log(settings, 2)
    with SessionLogger("raw", settings=settings, redact=False) as logger:
        logger.log("user", "my key is sk-abcdefghijklmnopqrstuvwxyz123456")
        logger.log("assistant", "noted")
    with pytest.raises(UsageError, match="redaction off.*data.allow_unredacted=true"):
        select(settings)
    assert len(select(settings, allow_unredacted=True)) == 3


def test_split_is_by_session_and_seeded(settings: Settings) -> None:
    make_log(settings, 20)
    conversations = select(settings)
    train, evals = split(conversations, 0.25, seed=1)
    assert len(evals) == 5 and len(train) == 15
    assert not {c.session_id for c in train} & {c.session_id for c in evals}
    assert split(conversations, 0.25, seed=1) == (train, evals)
    assert split(conversations, 0.25, seed=2)[1] != evals
    assert split(conversations, 0.0, seed=1) == (conversations, [])


@pytest.mark.parametrize("loss_on", ["assistant", "all"])
def test_loss_mask(settings: Settings, loss_on: str) -> None:
    make_log(settings, 5)
    conversations = select(settings)
    tokenizer = train_bpe(conversations, 400)
    config = DataConfig.from_dict({"max_length": 512, "loss_on": loss_on})
    blocks = build_blocks(conversations[:1], tokenizer, config)
    assert len(blocks) == 1
    block = blocks[0]
    trained = [
        t
        for t, label in zip(block["input_ids"], block["labels"], strict=True)
        if label != IGNORE_INDEX
    ]
    text = tokenizer.decode(trained)
    if loss_on == "assistant":
        assert (
            "I will" in text
            and "Done:" in text
            and '[call shell] {"input": "cat' in text
        )
        assert (
            "please" not in text and "def main" not in text and "<|user|>" not in text
        )
    else:
        assert "please" in text and "def main" in text
    real = sum(block["attention_mask"])
    assert block["labels"][real:] == [IGNORE_INDEX] * (512 - real)


def test_tokenizer_round_trips(settings: Settings) -> None:
    # Its speed is measured by benchmarks/bench_train.py, not asserted here.
    make_log(settings, 200)
    conversations = select(settings)
    tokenizer = train_bpe(conversations, 1000)
    text = "fix the parser.py ünïcode → done"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_export_data_writes_the_training_split(
    cli, settings: Settings, tmp_path: Path
) -> None:
    make_log(settings, 10)
    out = tmp_path / "train.jsonl"
    result = cli("train", "export-data", "-o", str(out), "data.eval_fraction=0.2")
    assert result.exit_code == 0, result.output
    records = [
        json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()
    ]
    assert len(records) == 8 and set(records[0]) == {"messages", "tools"}
    assert records[0]["messages"][0] == {
        "role": "user",
        "content": records[0]["messages"][0]["content"],
    }
    exported = cli("log", "export", "--all", "--format", "jsonl-chat")
    assert exported.exit_code == 0, exported.output
    log_records = [json.loads(line) for line in exported.stdout.splitlines()]
    assert all(r in log_records for r in records)  # the same format, record for record
    evals = cli("train", "export-data", "--split", "eval", "data.eval_fraction=0.2")
    assert len(evals.stdout.splitlines()) == 2
    everything = cli("train", "export-data", "--split=all")
    assert len(everything.stdout.splitlines()) == 10
    bad = cli("train", "export-data", "data.tags=[nope]")
    assert bad.exit_code == 1 and "no sessions match" in bad.output


def test_a_chat_template_is_trl_s_to_render(settings: Settings) -> None:
    """build_blocks is the plain template's; data.template=chat needs a chat template."""
    make_log(settings, 3)
    conversations = select(settings)
    tokenizer = train_bpe(conversations, 400)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    [block] = build_blocks(
        conversations[:1], tokenizer, DataConfig.from_dict({"max_length": 512})
    )
    assert tokenizer.decode(block["input_ids"]).startswith("<|user|>")
    tokenizer.chat_template = None
    with pytest.raises(
        UsageError, match="data.template=chat: the model's tokenizer has no chat"
    ):
        build_blocks(
            conversations, tokenizer, DataConfig.from_dict({"template": "chat"})
        )


def test_training_runs_are_not_training_data_unless_asked(settings: Settings) -> None:
    make_log(settings, 2)
    make_log(settings, 1, prefix="run")
    with SessionLogger("run000", settings=settings) as logger:
        logger.update_session(source="codex train")
    assert [c.session_id for c in select(settings)] == ["s000", "s001"]
    assert len(select(settings, include_training_runs=True)) == 3
    assert [
        c.session_id
        for c in select(settings, sources=["codex train"], include_training_runs=True)
    ] == ["run000"]
