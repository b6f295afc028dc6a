"""Event content as safe HTML: Markdown, pretty JSON, folded tool output.

Everything an agent wrote is untrusted. The Markdown renderer runs with raw
HTML turned off and refuses ``javascript:``/``vbscript:``/``file:`` links (they
stay visible as text); images become links (a remote image would be fetched
by the reader's browser: a beacon); every other string is escaped by
``markupsafe``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from .code import diff_html, highlight

ROLES = ("system", "user", "assistant", "tool")
TOOL_KINDS = ("tool_call", "tool_result")
FOLD_LINES = 15  # longer content is folded behind a <details> summary
FOLD_CHARS = 1500

# "js-default": CommonMark without raw HTML, without linkify or typographer.
_markdown = MarkdownIt("js-default")


def _image_as_link(
    self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any
) -> str:
    """``![alt](src)`` as a link to ``src``: nothing is fetched until a reader clicks."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return str(
        Markup(
            '<a class="codex-image-link" href="{src}" rel="noopener noreferrer nofollow">'
            "[image: {alt}]</a>"
        ).format(src=token.attrGet("src") or "", alt=alt or "untitled")
    )


_markdown.add_render_rule("image", _image_as_link)


def role_class(role: object) -> str:
    """A CSS class for a role; unknown values get a fixed class, never their text."""
    return f"codex-role-{role}" if role in ROLES else "codex-role-other"


def markdown(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe link schemes left as text."""
    return Markup(_markdown.render(text))


# Fenced code is highlighted by Pygments on the server (which escapes it).
_markdown.options["highlight"] = highlight


def inline_markdown(text: str) -> Markup:
    """One line of Markdown (a title) to inline HTML, as safe as :func:`markdown`."""
    return Markup(_markdown.renderInline(text))


def parse_json(text: str) -> Any | None:
    """The JSON object or array in ``text``, else ``None`` (scalars are not worth it)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def json_block(value: Any, *, open_: bool = True) -> Markup:
    """Pretty-printed JSON in a collapsible block."""
    size = (
        f"{len(value)} key{'s' * (len(value) != 1)}"
        if isinstance(value, dict)
        else f"{len(value)} item{'s' * (len(value) != 1)}"
    )
    kind = "object" if isinstance(value, dict) else "array"
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    return Markup(
        '<details class="codex-json"{open}><summary>JSON {kind} · {size}</summary>'
        "<pre>{body}</pre></details>"
    ).format(open=Markup(" open") if open_ else "", kind=kind, size=size, body=pretty)


def is_long(text: str) -> bool:
    return len(text) > FOLD_CHARS or text.count("\n") >= FOLD_LINES


# A failed result's summary shows the line that says why: the first line
# matching the earliest of these (pytest's FAILED, its "E   " lines, an
# exception, a compiler/shell error, a traceback header).
FAILURE_LINES = [
    re.compile(p)
    for p in (
        r"^FAILED\b",
        r"^E {2,}\S",
        r"^\w*(Error|Exception)\b",
        r"(?i)^(error|fatal|panic)\b|\berror(\[\w+\])?:",
        r"(?i)\b(FAILED|failure|Traceback)\b",
    )
]


def failing_line(text: str) -> str | None:
    """The line of a failed tool's output that best says why it failed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in FAILURE_LINES:
        for line in lines:
            if pattern.search(line):
                return line
    return None


def fold(body: Markup, text: str, failed: bool = False) -> Markup:
    """``body`` behind a summary of ``text``'s first (or failing) line and its size."""
    first = (failed and failing_line(text)) or next(
        (line.strip() for line in text.splitlines() if line.strip()), ""
    )
    if len(first) > 100:
        first = first[:100] + "…"
    lines = text.count("\n") + 1
    return Markup(
        '<details class="codex-fold"><summary><span class="codex-fold-first">{first}</span> '
        '<span class="codex-fold-size">({lines:,} lines, {chars:,} characters)</span>'
        "</summary>{body}</details>"
    ).format(first=first, lines=lines, chars=len(text), body=body)


def content_html(
    text: str,
    role: object = None,
    kind: object = None,
    *,
    failed: bool = False,
    tool: object = None,
) -> Markup:
    """One event's content as HTML: tool I/O as code or JSON, prose as Markdown.

    ``failed`` (a failed tool result) summarises folded output by its failing
    line; an edit (``tool`` apply_patch, Edit, MultiEdit, Write) shows its diff.
    """
    diff = diff_html(tool, text) if kind == "tool_call" else None
    value = parse_json(text) if kind in (*TOOL_KINDS, "meta") else None
    if diff is not None:
        raw = (
            json_block(value, open_=False)
            if value is not None
            else Markup(
                '<details class="codex-json"><summary>input</summary>'
                '<pre class="codex-output">{}</pre></details>'
            ).format(text)
        )
        body = Markup("{}{}").format(fold(diff, text) if is_long(text) else diff, raw)
    elif value is not None:
        body = json_block(value, open_=not is_long(text))
    elif kind in TOOL_KINDS:
        pre = Markup('<pre class="codex-output">{}</pre>').format(text)
        body = fold(pre, text, failed) if is_long(text) else pre
    else:
        rendered = Markup('<div class="codex-markdown">{}</div>').format(markdown(text))
        body = fold(rendered, text) if is_long(text) else rendered
    return Markup('<div class="codex-content {cls}">{body}</div>').format(
        cls=role_class(role), body=body
    )


def data_html(text: str) -> Markup | None:
    """The ``data`` column: collapsed pretty JSON, or ``None`` to let Datasette show it."""
    value = parse_json(text)
    return None if value is None else json_block(value, open_=False)
