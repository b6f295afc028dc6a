"""Secret redaction: the red-team list is caught, near-misses are kept, both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ndjson_records

from codex_cli import SessionLogger, Settings
from codex_cli.read.queries import open_log, session_events
from codex_cli.redact import CAUGHT, NEAR_MISSES, redact_text, redact_value


@pytest.mark.parametrize(
    "kind, text, secret", CAUGHT, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CAUGHT)]
)
def test_red_team_strings_are_caught(kind: str, text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert redacted == text.replace(secret, f"[REDACTED:{kind}]")


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_labels_and_surroundings_are_kept() -> None:
    assert (
        redact_text("Authorization: Bearer abcdefghijklmnop123")
        == "Authorization: Bearer [REDACTED:bearer]"
    )
    assert (
        redact_text("postgres://admin:pw123@db/x")
        == "postgres://admin:[REDACTED:url_password]@db/x"
    )


def test_nested_data_is_redacted() -> None:
    secret = CAUGHT[0][1]
    assert redact_value({"env": [secret], "n": 1}) == {
        "env": [redact_text(secret)],
        "n": 1,
    }


def test_secrets_never_reach_either_store(settings: Settings) -> None:
    with SessionLogger("sec", settings=settings) as logger:
        for _, text, _ in CAUGHT:
            logger.log("tool", text, kind="tool_result", data={"argv": [text]})
        path = logger.ndjson_path
    raw_file = path.read_text()
    conn = open_log(settings)
    dump = "\n".join(conn.iterdump())
    for _, _, secret in CAUGHT:
        assert secret not in raw_file and secret not in dump
    assert len(session_events(conn, "sec")) == len(CAUGHT)


def test_opt_out_per_call_and_by_setting(
    settings: Settings, codex_home: Path, cli, monkeypatch
) -> None:
    secret = CAUGHT[0][1]
    with SessionLogger("optout", settings=settings) as logger:
        logger.log("user", secret, redact=False)
    with SessionLogger(
        "optout",
        settings=Settings(
            log_dir=settings.log_dir, db_path=settings.db_path, redact=False
        ),
    ) as logger:
        logger.log("user", secret)
    assert (
        cli(
            "log", "add", "-r", "user", "--session", "optout", "--no-redact", secret
        ).exit_code
        == 0
    )
    monkeypatch.setenv("CODEX_REDACT", "0")
    assert cli("log", "add", "-r", "user", "--session", "optout", secret).exit_code == 0
    records = ndjson_records(codex_home / "sessions" / "optout.ndjson")
    assert [r["content"] for r in records] == [secret] * 4
    conn = open_log(settings)
    assert (
        conn.execute(
            "SELECT unredacted_events FROM sessions WHERE id='optout'"
        ).fetchone()[0]
        == 4
    )


def test_docs_list_every_pattern() -> None:
    from codex_cli.redact import PATTERNS

    safety = (Path(__file__).parent.parent / "docs" / "safety.md").read_text()
    for kind, _ in PATTERNS:
        assert f"`{kind}`" in safety
    assert json.dumps(NEAR_MISSES[0])[1:-1] in safety
