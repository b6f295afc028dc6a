"""A newcomer's first hour: the README runs, missing extras and bad queries are one line.

Also: the distribution name is ours, and a pipe closed early is quiet.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_cli.errors import DISTRIBUTION, MissingExtra, missing_extra
from codex_cli.events import Event
from codex_cli.settings import Settings
from codex_cli.store.writer import SessionLogger

ROOT = Path(__file__).resolve().parent.parent

# Runs `codex ARGS` as if the given modules were not installed.
WITHOUT = """
import sys

BLOCKED = set(sys.argv[1].split(","))


class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Missing())
from codex_cli.cli import main

sys.argv = ["codex", *sys.argv[2:]]
main()
"""
TRAIN_MODULES = "torch,transformers,accelerate,tokenizers"


def run_without(modules: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, modules, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def two_sessions(settings: Settings) -> Settings:
    for sid in ("s1", "s2"):
        with SessionLogger(sid, settings=settings) as logger:
            logger.log("user", "fix the failing test")
            logger.log("assistant", "done")
    return settings


@pytest.mark.parametrize(
    "args",
    [
        ("train",),
        ("train", "trainer.max_steps=1"),
        ("train", "sample", "runs/x", "hello"),
    ],
)
def test_a_missing_training_extra_is_one_line(
    two_sessions: Settings, args: tuple[str, ...]
) -> None:
    result = run_without(TRAIN_MODULES, *args)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: this command needs the 'train' extra")
    assert "pip install -e '.[train]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_extra_names_its_extra() -> None:
    assert isinstance(missing_extra(ModuleNotFoundError(name="torch.nn")), MissingExtra)
    extra = missing_extra(ModuleNotFoundError(name="mlflow"))
    assert extra is not None and "'.[mlflow]'" in str(extra)
    assert missing_extra(ModuleNotFoundError(name="yaml")) is None
    assert missing_extra(ValueError("x")) is None


def test_other_import_errors_are_not_hidden() -> None:
    result = run_without("yaml", "serve", "--port", "1")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "yaml" in result.stderr


@pytest.mark.parametrize(
    "query", ["*", '"foo', "a AND", "NEAR(", "x:y", ")", "^", "foo OR OR", "'"]
)
def test_a_bad_raw_search_is_one_line(
    two_sessions: Settings, cli: Callable[..., Any], query: str
) -> None:
    result = cli("log", "search", query, "--raw")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: invalid FTS5 query ")
    assert result.stderr.count("\n") == 1
    assert "drop --raw" in result.stderr


def test_a_good_raw_search_still_works(
    two_sessions: Settings, cli: Callable[..., Any]
) -> None:
    result = cli("log", "search", "fail*", "--raw", "--json")
    assert result.exit_code == 0
    assert "failing" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("log", "export", "--all"),
        ("log", "export", "--all", "--format", "markdown"),
        ("log", "view", "big"),
        ("log", "search", "line"),
    ],
)
def test_a_reader_that_leaves_early_gets_silence(
    settings: Settings, args: tuple[str, ...]
) -> None:
    # Many sessions: export writes each one separately, past the pipe's buffer.
    with SessionLogger("big", settings=settings) as logger:
        logger.write(
            [
                Event(
                    session_id="big" if i < 100 else f"s{i // 100}",
                    role="tool",
                    kind="tool_result",
                    content=f"line {i} " + "x" * 200,
                )
                for i in range(3000)
            ]
        )
    # `codex ... | head -1`
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert first
    assert stderr == ""


def test_the_distribution_name_is_ours() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "codex-session-log"
    assert f"{DISTRIBUTION}[test]" in project["optional-dependencies"]["dev"]
    assert set(project["scripts"]) == {"codex", "codex-cli"}
    # No install line anywhere names the other project's distribution.
    texts = [ROOT / "README.md", ROOT / "AGENTS.md", ROOT / "noxfile.py"]
    texts += sorted((ROOT / "docs").glob("*.md"))
    texts += sorted((ROOT / "codex_cli").rglob("*.py"))
    for path in texts:
        text = path.read_text()
        assert not re.search(r"pip install[^\n`]*codex-cli", text), path
        assert "codex-cli[" not in text, path


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    """The README's first command and the recording part of its tour, in bash."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    setup = next(b for b in blocks if "pip install -e ." in b)
    tour = next(b for b in blocks if "CODEX_SESSION_ID" in b)
    # `pip install -e .` is this test's environment; --follow runs until Ctrl-C.
    lines = [setup.split("&&", 1)[1].strip()]
    lines += [line for line in tour.splitlines() if "--follow" not in line]
    script = "\n".join(
        [
            "set -euo pipefail",
            f'codex() {{ "{sys.executable}" -m codex_cli "$@"; }}',
            f'python() {{ "{sys.executable}" "$@"; }}',
            *lines,
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_")}
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr
    assert "[foo-bar]" in result.stdout  # the set-up's search found its event
    assert "↳ result [exit_code=0]:" in result.stdout
    assert "now the docs" in result.stdout
    assert (tmp_path / ".codex" / "session_logs.db").exists()
