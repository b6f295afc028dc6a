"""Code as people read it: Pygments highlighting and file edits as coloured diffs.

Highlighting runs on the server (no script, no request to anyone), and
Pygments escapes every character it is given. Edits come in the shapes the
agents write them, read from the sample transcripts in
``tests/fixtures/agent-transcripts/``: Codex's ``apply_patch`` (its own patch
text: ``*** Begin Patch`` / ``*** Update File: path`` / ``@@`` / ``-`` / ``+``,
as a custom tool's input, a function's ``input`` argument or a shell
``["apply_patch", patch]`` command) and Claude Code's ``Edit``
(``file_path``, ``old_string``, ``new_string``), ``MultiEdit`` (``edits``:
a list of those) and ``Write`` (``file_path``, ``content``).
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from typing import Any

from markupsafe import Markup

MAX_DIFF_LINES = 2_000  # beyond this an edit shows as its raw input


@cache
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


@cache
def _lexer(name: str) -> Any | None:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight(code: str, lang: str, attrs: str = "") -> str:
    """markdown-it's ``highlight`` hook: highlighted HTML, or "" to keep the plain block."""
    lexer = _lexer(lang.strip().lower()) if lang.strip() else None
    if lexer is None:
        return ""
    from pygments import highlight as pygmentize

    return pygmentize(code, lexer, _formatter())


def _line_class(line: str) -> str:
    """Pygments' token classes for diff lines: header, hunk, deleted, inserted."""
    if line.startswith(("+++", "---", "*** ", "diff ")):
        return "gh"
    if line.startswith("@@"):
        return "gu"
    if line.startswith("-"):
        return "gd"
    if line.startswith("+"):
        return "gi"
    return ""


def _diff_block(diff: str) -> Markup:
    lines = (
        (
            Markup('<span class="{}">{}</span>').format(_line_class(line), line)
            if _line_class(line)
            else Markup("{}").format(line)
        )
        for line in diff.splitlines()
    )
    return Markup('<pre class="codex-diff">{}</pre>').format(Markup("\n").join(lines))


def _unified(path: str, old: str, new: str) -> str:
    slash = "" if path.startswith("/") else "/"
    lines = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        fromfile=f"a{slash}{path}" if old else "/dev/null",
        tofile=f"b{slash}{path}",
        lineterm="",
    )
    return "\n".join(lines)


def _patch_text(value: Any, text: str) -> str | None:
    """The ``apply_patch`` text in a tool call's content, whatever wraps it."""
    if text.lstrip().startswith("*** Begin Patch"):
        return text
    if isinstance(value, dict):
        for key in ("input", "patch"):
            if isinstance(value.get(key), str) and "*** Begin Patch" in value[key]:
                return value[key]
        command = value.get("command")
        if (
            isinstance(command, list)
            and len(command) >= 2
            and command[0] == "apply_patch"
            and isinstance(command[1], str)
        ):
            return command[1]
    return None


def edit_diff(tool: object, text: str) -> str | None:
    """The unified diff an edit-like tool call makes, or ``None`` for other calls."""
    try:
        value = json.loads(text) if text.lstrip()[:1] in "{[" else None
    except ValueError:
        value = None
    patch = _patch_text(value, text)
    if patch is not None:
        return patch.strip("\n")
    if not isinstance(value, dict):
        return None
    path = str(value.get("file_path") or value.get("path") or "file")
    if tool == "Edit" and "old_string" in value:
        return _unified(
            path, str(value["old_string"]), str(value.get("new_string", ""))
        )
    if tool == "MultiEdit" and isinstance(value.get("edits"), list):
        return "\n".join(
            _unified(path, str(e.get("old_string", "")), str(e.get("new_string", "")))
            for e in value["edits"]
            if isinstance(e, dict)
        )
    if tool == "Write" and isinstance(value.get("content"), str):
        return _unified(path, "", value["content"])
    return None


def diff_html(tool: object, text: str) -> Markup | None:
    """An edit-like tool call as a coloured unified diff (``None`` for other calls)."""
    diff = edit_diff(tool, text)
    if not diff or diff.count("\n") > MAX_DIFF_LINES:
        return None
    added = sum(
        1 for line in diff.splitlines() if line[:1] == "+" and line[:3] != "+++"
    )
    removed = sum(
        1 for line in diff.splitlines() if line[:1] == "-" and line[:3] != "---"
    )
    return Markup(
        '<div class="codex-edit"><span class="codex-edit-stats">'
        '<span class="codex-added">+{added}</span> '
        '<span class="codex-removed">−{removed}</span></span>{block}</div>'
    ).format(added=added, removed=removed, block=_diff_block(diff))
