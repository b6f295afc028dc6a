"""The one place that reads ``CODEX_*`` environment variables.

Everything else receives a :class:`Settings` value, so tests and the Python
API can pass settings explicitly and nothing else calls ``os.environ``.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InvalidSessionId, UsageError

DEFAULT_LOG_DIR = Path(".codex/sessions")
DEFAULT_DB_PATH = Path(".codex/session_logs.db")
DEFAULT_RETENTION_DAYS = 30

SESSION_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

# Documented in AGENTS.md and docs/configuration.md (generated from this dict).
ENVIRONMENT: dict[str, str] = {
    "CODEX_SESSION_ID": "Session to log into; a new UUID when unset.",
    "CODEX_SESSION_LOG_DIR": f"Directory of NDJSON session files (default `{DEFAULT_LOG_DIR}`).",
    "CODEX_LOG_DB_PATH": f"SQLite database (default `{DEFAULT_DB_PATH}`); wins over `CODEX_DB_PATH`.",
    "CODEX_DB_PATH": "Alias of `CODEX_LOG_DB_PATH`.",
    "CODEX_SQLITE_POOL": "`1`: reuse one connection per database and session in a process.",
    "CODEX_REDACT": "`0`: turn secret redaction off (default on).",
    "CODEX_RETENTION_DAYS": f"Default age for `codex log purge` (default {DEFAULT_RETENTION_DAYS}).",
    "NO_COLOR": "Any value but empty: no colour in `codex log view` and `search` (no-color.org); `--color` wins.",
    "CODEX_PRICES": "Price file for models the price table lacks (default `prices.toml` beside the database).",
    "CODEX_EMBED": "`0`: `codex log import` (and `--watch`) do not embed new events, even with the `semantic` extra installed (default on).",
}

# Read only to find other agents' transcripts for `codex log import`.
SOURCE_ENVIRONMENT: dict[str, str] = {
    "CODEX_HOME": "OpenAI Codex CLI home; its `sessions/` is imported (default `~/.codex`).",
    "CLAUDE_CONFIG_DIR": "Claude Code config directory; its `projects/` is imported too.",
    "LLM_USER_PATH": "The `llm` CLI's directory holding `logs.db`.",
    "XDG_CONFIG_HOME": "Where `llm` keeps `io.datasette.llm/` when `LLM_USER_PATH` is unset.",
    "HOME": "Home directory (`~`); Gemini CLI's `~/.gemini/tmp/` is imported from it.",
    "XDG_DATA_HOME": "Where OpenCode keeps `opencode/opencode.db` and `opencode/storage/` (default `~/.local/share`).",
    "OPENCODE_DB": "OpenCode's database when moved from `opencode/opencode.db` (relative: to that directory).",
    "COPILOT_HOME": "GitHub Copilot CLI home; its `session-state/` is imported (default `~/.copilot`).",
}

# Read only for `codex train` (documented in docs/training.md).
TRAINING_ENVIRONMENT: dict[str, str] = {
    "MLFLOW_TRACKING_URI": "MLflow tracking URI when `tracking.uri` is unset.",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def validate_session_id(value: str, source: str = "session id") -> str:
    """Return ``value`` if it is a safe session id, else raise naming ``source``."""
    if (
        not isinstance(value, str)
        or not SESSION_ID_RE.fullmatch(value)
        or ".." in value
    ):
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise InvalidSessionId(
            f"invalid {source} {shown}: use 1-128 characters from A-Z a-z 0-9 . _ : - "
            "starting with a letter or digit (no '/', '\\', '..' or NUL)"
        )
    return value


def new_session_id() -> str:
    return str(uuid.uuid4())


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"{name}={raw!r}: expected 1 or 0")


@dataclass(frozen=True)
class Settings:
    """Where the log lives and how it is written."""

    log_dir: Path = DEFAULT_LOG_DIR
    db_path: Path = DEFAULT_DB_PATH
    session_id: str | None = None
    pool: bool = False
    redact: bool = True
    retention_days: int = DEFAULT_RETENTION_DAYS
    mlflow_tracking_uri: str | None = None
    no_color: bool = False
    #: Explicit price file (``CODEX_PRICES``); see :attr:`price_file`.
    prices_path: Path | None = None
    #: Embed imported events when the ``semantic`` extra is installed (``CODEX_EMBED``).
    embed: bool = True
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # Other agents' homes, for `codex log import` (see SOURCE_ENVIRONMENT).
    home: Path | None = None
    codex_home: Path | None = None
    claude_config_dir: Path | None = None
    llm_user_path: Path | None = None
    xdg_config_home: Path | None = None
    xdg_data_home: Path | None = None
    copilot_home: Path | None = None
    opencode_db: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        warnings: list[str] = []
        db = env.get("CODEX_LOG_DB_PATH") or None
        alias = env.get("CODEX_DB_PATH") or None
        if db and alias and Path(db) != Path(alias):
            warnings.append(
                f"CODEX_LOG_DB_PATH={db} and CODEX_DB_PATH={alias} differ; "
                "using CODEX_LOG_DB_PATH"
            )
        session_id = env.get("CODEX_SESSION_ID") or None
        if session_id is not None:
            validate_session_id(session_id, "CODEX_SESSION_ID")
        retention = env.get("CODEX_RETENTION_DAYS")
        try:
            retention_days = int(retention) if retention else DEFAULT_RETENTION_DAYS
        except ValueError:
            raise UsageError(
                f"CODEX_RETENTION_DAYS={retention!r}: expected a whole number of days"
            ) from None
        return cls(
            log_dir=Path(env.get("CODEX_SESSION_LOG_DIR") or DEFAULT_LOG_DIR),
            db_path=Path(db or alias or DEFAULT_DB_PATH),
            session_id=session_id,
            pool=_flag(env, "CODEX_SQLITE_POOL", False),
            redact=_flag(env, "CODEX_REDACT", True),
            retention_days=retention_days,
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
            no_color=bool(env.get("NO_COLOR")),
            prices_path=Path(env["CODEX_PRICES"]) if env.get("CODEX_PRICES") else None,
            embed=_flag(env, "CODEX_EMBED", True),
            warnings=tuple(warnings),
            **{
                name: Path(env[var]) if env.get(var) else None
                for name, var in _SOURCE_FIELDS.items()
            },
        )

    @property
    def claude_dir(self) -> Path:
        """Claude Code's own directory: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
        return self.claude_config_dir or (self.home or Path.home()) / ".claude"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the non-``None`` values of ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @property
    def price_file(self) -> tuple[Path, bool]:
        """The user price file and whether it must exist (it was named explicitly)."""
        if self.prices_path is not None:
            return self.prices_path, True
        return self.db_path.parent / "prices.toml", False

    def resolve_session_id(
        self, explicit: str | None = None, source: str = "--session"
    ) -> str:
        """The session to write to: ``explicit``, else the environment, else a new one."""
        if explicit is not None:
            return validate_session_id(explicit, source)
        return self.session_id or new_session_id()


_SOURCE_FIELDS = {
    "home": "HOME",
    "codex_home": "CODEX_HOME",
    "claude_config_dir": "CLAUDE_CONFIG_DIR",
    "llm_user_path": "LLM_USER_PATH",
    "xdg_config_home": "XDG_CONFIG_HOME",
    "xdg_data_home": "XDG_DATA_HOME",
    "copilot_home": "COPILOT_HOME",
    "opencode_db": "OPENCODE_DB",
}


def emit_warnings(settings: Settings) -> None:
    for message in settings.warnings:
        print(f"Warning: {message}", file=sys.stderr)
