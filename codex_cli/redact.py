"""Secret redaction, applied to everything written, before anything touches disk.

Each :class:`Rule` replaces the secret (not its label or surroundings) with
``[REDACTED:<kind>]``. ``docs/safety.md`` lists the rules and the red-team
strings below (``CAUGHT``, ``NEAR_MISSES``), which ``tests/test_redact.py``
proves are caught and kept: the doc and the tests read the same lists.

Two properties hold for every rule, and the tests check both:

- **Its pre-filter is derived from it.** A rule declares the literal
  ``keywords`` every one of its matches contains (compared lower-cased); a
  rule runs only on text that holds one of them. One Aho-Corasick automaton
  of every rule's keywords finds them all in a single pass over the text,
  so text that holds none costs one scan. No hand-kept list of markers can
  drift from the patterns.
- **An anchored rule is tried only where its keywords start.** A rule
  declared ``anchored`` (every match begins with one of its keywords: the
  assignment rules, whose patterns open with a class of first letters that
  the engine would try at every such letter) is matched at the keyword
  positions the scan found, which gives the same result as a scan of the
  whole text (tested against one).
- **It is linear in the input.** A pattern starts with a literal or is
  anchored by a look-behind so that a run of token characters has one
  starting point; repeats are bounded or possessive and are never followed
  by something that could send the engine back over them. A megabyte of
  adversarial text redacts in well under a second, and it is redacted
  before the writer takes the database lock.

The rule set was compared with gitleaks' rules and detect-secrets' keyword
plugin (both open source); the patterns here are our own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import ahocorasick_rs

LABEL = "[REDACTED:{}]"


@dataclass(frozen=True)
class Rule:
    """One kind of secret: a pattern and the literals every match contains."""

    kind: str
    what: str
    pattern: str
    #: Lower-case literals; every match holds at least one (tested).
    keywords: tuple[str, ...]
    #: Every match starts where one of ``keywords`` starts (tested): the rule
    #: is then tried at those positions only, not at every position.
    anchored: bool = False

    # Compiled on first use: `codex log add` of text that holds no keyword
    # compiles nothing (compiling every rule costs milliseconds).
    @cached_property
    def compiled(self) -> re.Pattern[str]:
        # ASCII: Unicode case folding would let "ſecret" match yet miss the
        # lower-cased keywords of the pre-filter.
        return re.compile(self.pattern, re.ASCII)

    @cached_property
    def replace(self) -> Callable[[re.Match[str]], str]:
        return _replacer(self.kind)


# Characters of a token: a token rule's look-behind refuses to start inside
# a run of them, so each run is scanned once (the key to linear time).
_T = r"A-Za-z0-9_\-"
# A value may not be an earlier rule's label: `KEY=sk-…` is labelled once.
_NOT_DONE = r"(?!\[REDACTED:)"

# Names of settings that hold a secret, for the assignment rules. A match
# starts at the secret word, which must end the name unless it is
# "password". Each pattern opens with the class of the words' first letters
# and checks the rest behind it: a leading character class lets the engine
# skip every other position at C speed (several times faster on long text).
_KEY_PREFIXES = ("api", "access", "private", "secret", "auth")
_SECRET_WORD = (
    r"[PpSsTtCcKk](?i:"
    r"(?<=p)ass(?:word|wd|phrase)[A-Za-z0-9_.\-]{0,20}+"
    r"|(?<![A-Za-z0-9]p)(?<=p)ass"
    r"|(?<=[_.\-]p)wd"
    r"|(?<=s)ecret|(?<=t)oken|(?<=c)redentials?"
    r"|(?:" + "|".join(f"(?<={p}[_\\-]k)|(?<={p}k)" for p in _KEY_PREFIXES) + r")ey)"
)
# Other names ending in "key" (STRIPE_KEY, signingKey): only values shaped
# like a key (8+ characters with a digit, no spaces) are taken.
_KEY_WORD = r"[Kk](?:(?<=[_.\-][Kk])(?i:ey)|(?<=[a-z0-9]K)ey|(?<=K)EY)"
# Values that are not secrets: empty, a variable, a placeholder, a type.
_PLACEHOLDER = (
    r"(?!(?i:\$|%\(|<|\{\{|\*{3}|x{3,}\b|\.\.\.|(?:null|none|nil|true|false|"
    r"undefined|string|str|int|bool|optional|changeme|redacted)\b|your[_\-]|"
    r"process\.env|os\.environ|env\())"
)
_UNQUOTED = r"[^\s\"'`,;&()\[\]{}<>\\]"

# The words of secret-named settings (*PASSWORD*, *_TOKEN, api_key, …): the
# assignment rule's keywords.
_SECRET_NAME_WORDS = ("pass", "pwd", "secret", "token", "key", "credential")

RULES: list[Rule] = [
    Rule(
        "private_key",
        "PEM private key blocks of every kind (RSA, EC, DSA, OpenSSH, PKCS#8, "
        "encrypted, PGP); a block cut short (no END line) is redacted to its end",
        r"-----BEGIN[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?!-----END)[A-Za-z0-9+/=\s:,\\\-])*+"
        r"(?:-----END[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?",
        ("private key",),
    ),
    Rule(
        "private_key",
        "PuTTY private key lines",
        r"Private-Lines: \d{1,4}\r?\n(?:[A-Za-z0-9+/=]{1,64}(?:\r?\n|$))*+",
        ("private-lines:",),
    ),
    Rule(
        "private_key",
        "age secret keys",
        r"AGE-SECRET-KEY-1[0-9A-Z]{50,}+",
        ("age-secret-key-",),
    ),
    Rule(
        "anthropic",
        "Anthropic API, admin and OAuth keys (sk-ant-api03-, sk-ant-admin01-, …)",
        rf"(?<![{_T}])sk-ant-[a-z]{{2,8}}[0-9]{{2}}-[{_T}]{{20,}}+",
        ("sk-ant-",),
    ),
    Rule(
        "openai",
        "OpenAI keys (sk-proj-, sk-svcacct-, sk-admin-, legacy sk-) and other "
        "sk- keys with a run of 20 letters or digits",
        rf"(?<![{_T}])sk-(?=[{_T}]*?[A-Za-z0-9]{{20}})[{_T}]++",
        ("sk-",),
    ),
    Rule(
        "aws_access_key",
        "AWS access key ids",
        r"(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])",
        ("a3t", "akia", "asia", "abia", "acca"),
    ),
    Rule(
        "aws_secret_key",
        "AWS secret access keys after their setting's name",
        r"(?i:aws_?secret_?(?:access_?)?key)[\"']?[ \t]{0,5}[:=][ \t]{0,5}[\"']?"
        r"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        ("aws_secret", "awssecret"),
    ),
    Rule(
        "github",
        "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{22,}+)",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Rule(
        "gitlab",
        "GitLab tokens (glpat- personal, gldt- deploy, glrt- runner, glptt- trigger, "
        "glcbt- CI job)",
        rf"(?<![{_T}])gl(?:pat|dt|rt|ptt|cbt)-[{_T}.]{{20,}}+",
        ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-"),
    ),
    Rule(
        "slack",
        "Slack tokens (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-, xoxo-, xoxe-)",
        r"(?<![A-Za-z0-9])xox(?:[abposr]|e(?:\.xox[bp])?)-[A-Za-z0-9\-]{10,}+",
        ("xox",),
    ),
    Rule(
        "slack_webhook",
        "Slack webhook URLs",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+\-]{10,}+",
        ("hooks.slack.com",),
    ),
    Rule(
        "stripe",
        "Stripe secret and restricted keys, webhook secrets",
        r"(?<![A-Za-z0-9_])(?:(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}+"
        r"|whsec_[A-Za-z0-9]{24,}+)",
        ("k_live_", "k_test_", "k_prod_", "whsec_"),
    ),
    Rule(
        "google",
        "Google API keys (AIza), OAuth client secrets (GOCSPX-), access tokens (ya29.)",
        rf"(?<![{_T}])(?:AIza[{_T}]{{35}}(?![{_T}])|GOCSPX-[{_T}]{{20,}}+"
        rf"|ya29\.[{_T}]{{20,}}+)",
        ("aiza", "gocspx-", "ya29."),
    ),
    Rule(
        "huggingface",
        "Hugging Face tokens (hf_, api_org_)",
        r"(?<![A-Za-z0-9_])(?:hf|api_org)_[A-Za-z0-9]{30,}+",
        ("hf_", "api_org_"),
    ),
    Rule(
        "npm",
        "npm access tokens",
        r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36,}+",
        ("npm_",),
    ),
    Rule(
        "pypi",
        "PyPI and TestPyPI upload tokens",
        rf"(?<![{_T}])pypi-AgE[{_T}]{{50,}}+",
        ("pypi-age",),
    ),
    Rule(
        "jwt",
        "JSON Web Tokens (and other eyJ….eyJ… tokens)",
        rf"(?<![{_T}.])eyJ[{_T}]{{10,}}+\.ey[{_T}]{{10,}}+\.[{_T}]*+",
        ("eyj",),
    ),
    Rule(
        "authorization",
        "Authorization headers (Bearer, Basic, token, any scheme) and bearer tokens",
        r"(?i:authorization[\"']?[ \t]{0,5}[:=][ \t]{0,5}[\"']?"
        r"(?:(?:bearer|basic|token|bot|digest|api-?key)[ \t]{1,5})?"
        r"|\bbearer[ \t]{1,5})" + _NOT_DONE + r"(?P<secret>[A-Za-z0-9._~+/\-]{12,}+=*)",
        ("authorization", "bearer"),
    ),
    Rule(
        "url_password",
        "passwords in URLs (scheme://user:password@host)",
        r"://[^\s:/@]{0,256}+:" + _NOT_DONE + r"(?P<secret>[^\s@/]{1,256}+)@",
        ("://",),
    ),
    Rule(
        "secret_assignment",
        "assignments to secret-named settings (*PASSWORD*, *_SECRET, *_TOKEN, "
        "api_key, access_key, private_key, credentials, *_PASS) in env, JSON, "
        "YAML and TOML shapes: a quoted value of 3+ characters, or an unquoted "
        "one of 3+ after `=` and 6+ after `:`; placeholders are kept",
        _SECRET_WORD + r"\\?[\"']?"
        r"(?:[ \t]{0,5}(?::=|=>?|:)[ \t]{0,5}@?\\?[\"'`]"
        + _NOT_DONE
        + _PLACEHOLDER
        + r"(?P<secret>[^\"'`\\\r\n]{3,}+)"
        r"|=" + _NOT_DONE + _PLACEHOLDER + rf"(?P<secret2>{_UNQUOTED}{{3,}}+)(?![(\[])"
        r"|[ \t]{0,5}:[ \t]{1,5}"
        + _NOT_DONE
        + _PLACEHOLDER
        + rf"(?P<secret3>{_UNQUOTED}{{6,}}+)(?![(\[])"
        r")",
        _SECRET_NAME_WORDS,
        anchored=True,
    ),
    Rule(
        "key_assignment",
        "assignments to other *_KEY / *Key settings when the value looks like "
        "a key (8+ characters with a digit, no spaces)",
        rf"{_KEY_WORD}\\?[\"']?[ \t]{{0,5}}(?::=|=>?|:)[ \t]{{0,5}}"
        r"\\?[\"'`]?"
        + _NOT_DONE
        + _PLACEHOLDER
        + rf"(?=[^\s\"'`,;]*?[0-9])(?P<secret>{_UNQUOTED}{{8,}}+)(?![(\[])",
        ("key",),
        anchored=True,
    ),
]

#: kind -> what it catches, in rule order (for the docs).
KINDS: dict[str, str] = {}
for _rule in RULES:
    KINDS[_rule.kind] = (
        f"{KINDS[_rule.kind]}; {_rule.what}" if _rule.kind in KINDS else _rule.what
    )

# The one pass every text gets: an automaton of all the rules' keywords,
# run over the lower-cased text. Overlapping matches, so that every
# occurrence of every keyword is seen ("sk-ant-" holds "sk-" too).
_KEYWORD_LIST: list[str] = sorted({k for r in RULES for k in r.keywords})
_AUTOMATON = ahocorasick_rs.AhoCorasick(_KEYWORD_LIST)
# keyword index -> indexes of the rules that declare it
_RULES_OF: list[tuple[int, ...]] = [
    tuple(i for i, r in enumerate(RULES) if k in r.keywords) for k in _KEYWORD_LIST
]


def _keywords_in(lowered: str) -> list[tuple[int, int, int]]:
    """(keyword index, start, end) of every keyword occurrence in ``lowered``."""
    return _AUTOMATON.find_matches_as_indexes(lowered, overlapping=True)


# Setting names whose value, in structured data, is a secret as a whole:
# {"api_key": "…"} holds the same secret as `api_key: "…"`.
@cache
def _structured() -> tuple[re.Pattern[str], ...]:
    name = r"[A-Za-z0-9_.\-]{0,40}?"
    return (
        re.compile(rf"{name}{_SECRET_WORD}|(?i:authorization|cookie|set-cookie)"),
        re.compile(name + _KEY_WORD),
        re.compile(_PLACEHOLDER + r"\S"),
        re.compile(rf"(?=[^\s]*?[0-9]){_UNQUOTED}{{8,}}"),
    )


def _replacer(kind: str) -> Callable[[re.Match[str]], str]:
    label = LABEL.format(kind)

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        for name in match.re.groupindex:
            if name.startswith("secret") and match.group(name) is not None:
                start, end = match.span(name)
                offset = match.start()
                return whole[: start - offset] + label + whole[end - offset :]
        return label

    return replace


def may_hold_secret(text: str) -> bool:
    """The pre-filter: does ``text`` hold a keyword of any rule?"""
    return bool(_AUTOMATON.find_matches_as_indexes(text.lower()))


def redact_text(text: str) -> str:
    """Return ``text`` with every recognised secret replaced."""
    lowered = text.lower()
    found = _keywords_in(lowered)
    if not found:
        return text
    # Which rules run is decided on the text as given (a label written by
    # one rule never makes another run); where an anchored rule is tried is
    # read from the text as it is when its turn comes.
    starts: dict[int, list[int]] = {}
    for keyword, start, _ in found:
        for index in _RULES_OF[keyword]:
            starts.setdefault(index, []).append(start)
    changed = False
    for index in sorted(starts):
        rule = RULES[index]
        if changed:
            lowered = text.lower()
        # str.lower() keeps positions unless a character lowers to several
        # (U+0130): then the whole text is scanned, as for any other rule.
        if rule.anchored and len(lowered) == len(text):
            if changed:
                starts[index] = [
                    start
                    for keyword, start, _ in _keywords_in(lowered)
                    if index in _RULES_OF[keyword]
                ]
            redacted = _sub_at(rule, text, starts[index])
        else:
            redacted = rule.compiled.sub(rule.replace, text)
        if redacted != text:
            text, changed = redacted, True
    return text


def _sub_at(rule: Rule, text: str, positions: Sequence[int]) -> str:
    """``rule.compiled.sub`` for a rule whose matches start only at ``positions``.

    Tried left to right, each from where the last match ended, as ``sub``
    scans; ``match(text, pos)`` sees the text before ``pos`` (look-behinds).
    """
    match_at = rule.compiled.match
    pieces: list[str] = []
    done = 0
    for position in sorted(set(positions)):
        if position < done:
            continue
        match = match_at(text, position)
        if match is not None:
            pieces += (text[done:position], rule.replace(match))
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# Every secret-named key of structured data holds one of these.
_KEY_NAME_WORDS = (*_SECRET_NAME_WORDS, "auth", "cookie")


def _secret_setting(key: str, value: str) -> bool:
    lowered = key.lower()
    if not any(word in lowered for word in _KEY_NAME_WORDS):
        return False
    strong, weak, not_placeholder, keylike = _structured()
    if not value.strip() or not not_placeholder.match(value.lstrip("\"'")):
        return False
    if value.startswith("[REDACTED:"):
        return False
    if strong.fullmatch(key):
        return True
    return bool(weak.fullmatch(key) and keylike.fullmatch(value))


def redact_value(value: Any) -> Any:
    """Redact strings anywhere inside a JSON-like value, keys included.

    A string stored under a secret-named key (``api_key``, ``DB_PASSWORD``,
    ``Authorization``) is replaced whole, as in ``api_key: "…"`` text.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if (
                isinstance(key, str)
                and isinstance(item, str)
                and len(key) <= 80
                and _secret_setting(key, item)
            ):
                item = redact_text(item)
                if _secret_setting(key, item):
                    item = LABEL.format("secret_assignment")
            else:
                item = redact_value(item)
            out[redact_text(key) if isinstance(key, str) else key] = item
        return out
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value
