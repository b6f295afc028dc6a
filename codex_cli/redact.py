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
    (
        "openai",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]*[A-Za-z0-9]{20,}[A-Za-z0-9_-]*",
    ),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    (
        "aws_secret_key",
        r"(?i:aws_?secret_?access_?key)[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    ),
    (
        "github",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    ),
    ("slack", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
    ("bearer", r"(?i:\bbearer)\s+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)"),
    (
        "url_password",
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:(?P<secret>[^\s@/]+)@",
    ),
]

_COMPILED = [(kind, re.compile(pattern)) for kind, pattern in PATTERNS]
# A cheap pre-check: most content holds none of these markers, and a few
# substring tests on the lower-cased text cost far less than any regex pass.
_MARKERS = (
    "private key",
    "sk-",
    "akia",
    "asia",
    "abia",
    "acca",
    "secret",
    "gh",
    "xox",
    "hooks.slack",
    "bearer",
    "://",
)


def _may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _MARKERS)


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
    if not _may_hold_secret(text):
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


# The red-team list: strings the tests prove are caught, with the kind each
# becomes, and near-misses the tests prove are left alone. docs/safety.md is
# generated from these lists. (Every "secret" here is fake.)
CAUGHT: list[tuple[str, str, str]] = [  # (kind, text, the part that must vanish)
    ("openai", "OPENAI_API_KEY={}", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"),
    ("openai", "{}", "sk-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"),
    ("openai", "key: {}", "sk-svcacct-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0"),
    (
        "anthropic",
        "ANTHROPIC_API_KEY={}",
        "sk-ant-api03-Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6-J7k8L9z0",
    ),
    ("aws_access_key", "aws_access_key_id = {}", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_key",
        "aws_secret_access_key={}",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("github", "token {}", "ghp_1234567890abcdefghijABCDEFGHIJ123456"),
    ("github", "{}", "github_pat_11AAAAAAA0abcdefghijklmnopqrstuvwxyz0123456789"),
    ("slack", "SLACK_BOT_TOKEN={}", "xoxb-123456789012-1234567890123-AbCdEfGhIjKl"),
    (
        "slack_webhook",
        "{}",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    (
        "bearer",
        "Authorization: Bearer {}",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ),
    ("url_password", "postgres://admin:{}@db.internal:5432/app", "hunter2"),
    (
        "url_password",
        "git clone https://user:{}@github.com/org/repo",
        "ghs-token-value",
    ),
    (
        "private_key",
        "{}",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
    ),
    (
        "private_key",
        "{}",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----",
    ),
]
CAUGHT = [(kind, text.format(secret), secret) for kind, text, secret in CAUGHT]

NEAR_MISSES: list[str] = [
    "the task-list and sk-learn are not keys",
    "a desk-organiser-with-many-drawers-and-more",
    "sk-short",
    "AKIA is a prefix, AKIASHORT is not a key",
    "ghp_tooShort",
    "the bearer of bad news",
    "Bearer tokens are explained in RFC 6750",
    "https://example.com/path:with@colon",
    "mailto:someone@example.com",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "aws_secret_access_key is the name of the setting",
    "xoxb without a dash",
]
