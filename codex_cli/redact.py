"""Secret redaction, applied to every event before anything touches disk.

Each pattern replaces the secret (not its label or surroundings) with
``[REDACTED:<kind>]``. ``docs/safety.md`` lists the patterns; the red-team
strings in ``tests/test_redact.py`` prove what is caught and what is not.
"""

from __future__ import annotations

import re
from typing import Any

# (kind, pattern). A named group ``secret`` marks the part to replace;
# without it the whole match goes. Order matters: more specific first.
PATTERNS: list[tuple[str, str]] = [
    (
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
    ),
    ("anthropic", r"\bsk-ant-[A-Za-z0-9]+-[A-Za-z0-9_-]{20,}"),
    ("openai", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]*[A-Za-z0-9]{20,}[A-Za-z0-9_-]*"),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    (
        "aws_secret_key",
        r"(?i:aws_?secret_?access_?key)[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    ),
    ("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("slack", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
    ("bearer", r"(?i:\bbearer)\s+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)"),
    (
        "url_password",
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:(?P<secret>[^\s@/]+)@",
    ),
]

_COMPILED = [(kind, re.compile(pattern)) for kind, pattern in PATTERNS]
# A cheap pre-check: most content has none of these markers, and one scan for
# them is faster than running every pattern.
_HINT = re.compile(
    r"PRIVATE KEY|sk-|AKIA|ASIA|ABIA|ACCA|(?i:secret)|gh[pousr]_|github_pat_|xox|hooks\.slack|(?i:bearer)|://[^\s/@]*:"
)


def _replacer(kind: str):
    label = f"[REDACTED:{kind}]"

    def replace(match: re.Match[str]) -> str:
        if "secret" in match.re.groupindex and match.group("secret") is not None:
            start, end = match.span("secret")
            whole_start = match.start()
            text = match.group(0)
            return text[: start - whole_start] + label + text[end - whole_start :]
        return label

    return replace


_REPLACERS = [(pattern, _replacer(kind)) for kind, pattern in _COMPILED]


def redact_text(text: str) -> str:
    """Return ``text`` with every recognised secret replaced."""
    if not _HINT.search(text):
        return text
    for pattern, replace in _REPLACERS:
        text = pattern.sub(replace, text)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings anywhere inside a JSON-like value (keys are kept)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value
