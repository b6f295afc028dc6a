"""Full-text search over every logged event (SQLite FTS5).

Queries are ranked by bm25 when every word in them is rare enough that bm25 is
cheap. FTS5's bm25 counts the events of every query word (a scan of its whole
list in the index) and scores every match, which takes seconds for a word in
most events; so a query with a *common* word (in more than
:data:`COMMON_EVENTS` events) ranks a bounded candidate set instead: the newest
:data:`CANDIDATES` matches, found through the index in rowid order, scored by
the same bm25 formula in Python. docs/search.md explains the trade.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..errors import SearchSyntaxError, UsageError
from ..events import Event
from ..store.schema import EVENT_COLUMNS
from .queries import row_to_event

# A word in more events than this is common: bm25 over it would scan too much.
COMMON_EVENTS = 2000
# How many of the newest matches a query with a common word ranks.
CANDIDATES = 500
# Only the start of a long event is tokenised to score it.
_SCORED_CHARS = 20_000
_K1, _B = 1.2, 0.75  # FTS5's bm25 constants

_DATABASE_TROUBLE = (
    "locked",
    "disk",
    "readonly",
    "unable to open",
    "malformed",
    "no such table",
)
_OPERATORS = ("AND", "OR", "NOT")
_TOKEN = re.compile(
    r'"(?P<phrase>[^"]*)(?P<closed>"?)(?P<pstar>\*?)|(?P<paren>[()])|(?P<word>[^\s()"]+)'
)
_WORD_CHARS = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchHit:
    event: Event
    snippet: str
    rank: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.event.to_record(), "snippet": self.snippet, "rank": self.rank}


@dataclass(frozen=True)
class Term:
    """One word or phrase of a query, as the tokenizer will see it."""

    tokens: tuple[str, ...]
    prefix: bool = False
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A query turned into an FTS5 expression, with the terms it is made of."""

    match: str
    terms: tuple[Term, ...]


def quote_fts(query: str) -> str:
    """Quote each word so FTS5 syntax (``-``, ``:``, ``*``, ``"``) is taken literally.

    ``foo-bar 019a4f2c-7d31`` becomes ``"foo-bar" "019a4f2c-7d31"``: every
    word must appear, each as a phrase of its tokens.
    """
    words = query.split()
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def tokens_of(text: str) -> tuple[str, ...]:
    """The words FTS5's ``unicode61 remove_diacritics 2`` tokenizer makes of ``text``."""
    if not text.isascii():
        text = "".join(
            c
            for c in unicodedata.normalize("NFKD", text)
            if not unicodedata.combining(c)
        )
    return tuple(_WORD_CHARS.findall(text.lower().replace("_", " ")))


def parse_query(query: str, *, literal: bool = False) -> ParsedQuery:
    """Turn a search query into an FTS5 expression; raise on malformed syntax.

    Words must all appear; ``"a phrase"`` in that order; ``pyt*`` any word
    starting ``pyt``; ``a OR b``, ``a NOT b`` and parentheses combine them
    (operators in capitals). Any other character is taken literally:
    ``foo-bar`` is the phrase ``foo bar``. With ``literal``, every word is
    taken as is (no operators, no prefix, no phrases).
    """
    if not query.strip():
        raise UsageError("empty search query: give at least one word")
    if literal:
        words = query.split()
        return ParsedQuery(quote_fts(query), tuple(Term(tokens_of(w)) for w in words))

    def bad(why: str) -> SearchSyntaxError:
        return SearchSyntaxError(
            f"invalid search query {query!r}: {why} "
            "(see codex log search --help; --literal takes every word as is)"
        )

    parts: list[str] = []
    terms: list[Term] = []
    expect_operand = True  # at the start, after an operator or '('
    depth = 0
    last_operator = ""
    # Depths at which a NOT's operand is open: its words are excluded, not sought.
    negating: list[int] = []
    pending_not = False

    def operand(text: str, prefix: bool, fts: str) -> None:
        nonlocal expect_operand, pending_not
        negated = pending_not or bool(negating)
        pending_not = False
        terms.append(Term(tokens_of(text), prefix, negated))
        parts.append(fts)
        expect_operand = False

    for m in _TOKEN.finditer(query):
        if m.group("paren") == "(":
            if pending_not:
                negating.append(depth)
                pending_not = False
            depth += 1
            parts.append("(")
            expect_operand = True
        elif m.group("paren") == ")":
            if depth == 0:
                raise bad("')' without a matching '('")
            if expect_operand:
                raise bad(
                    f"{last_operator!r} needs a word after it"
                    if last_operator
                    else "empty parentheses"
                )
            depth -= 1
            if negating and negating[-1] == depth:
                negating.pop()
            parts.append(")")
        elif m.group("word") is not None:
            word = m.group("word")
            if word in _OPERATORS:
                if expect_operand:
                    if word == "NOT" and not parts:
                        raise bad(
                            "NOT needs a word before it (search for what is "
                            "there, then exclude: 'parser NOT test')"
                        )
                    if last_operator:
                        raise bad(f"{word!r} right after {last_operator!r}")
                    raise bad(f"{word!r} needs a word before it")
                parts.append(word)
                last_operator = word
                pending_not = word == "NOT"
                expect_operand = True
                continue
            prefix = word.endswith("*")
            stem = word.rstrip("*")
            if not stem:
                raise bad("'*' needs the start of a word before it, as in pyt*")
            if "*" in stem:
                raise bad(f"'*' only ends a word ({word!r}); quote it to find it")
            if prefix and not _WORD_CHARS.search(stem):
                raise bad(f"{word!r} has no letters or digits before '*'")
            quoted = '"' + stem + '"'
            operand(stem, prefix, quoted + ("*" if prefix else ""))
        else:
            phrase = m.group("phrase")
            if not m.group("closed"):
                raise bad("a phrase is missing its closing '\"'")
            if not phrase.strip():
                raise bad('empty phrase ""')
            prefix = bool(m.group("pstar"))
            operand(phrase, prefix, '"' + phrase + '"' + ("*" if prefix else ""))
        last_operator = ""
    if expect_operand:
        raise bad(
            f"{last_operator!r} needs a word after it" if last_operator else "no words"
        )
    if depth:
        raise bad("'(' without a matching ')'")
    return ParsedQuery(" ".join(parts), tuple(terms))


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    role: str | None = None,
    kind: str | None = None,
    session: str | None = None,
    tool: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
    raw: bool = False,
    highlight: tuple[str, str] = ("[", "]"),
    literal: bool = False,
) -> list[SearchHit]:
    """The best ``limit`` matches for ``query``, best first.

    ``query`` uses the syntax of :func:`parse_query`; ``literal`` takes every
    word as is; ``raw`` passes it to FTS5 untouched.
    """
    if not query.strip():
        raise UsageError("empty search query: give at least one word")
    if limit < 1:
        raise UsageError(f"invalid limit {limit}: expected 1 or more")
    if raw and literal:
        raise UsageError("give --raw or --literal, not both")
    parsed = ParsedQuery(query, ()) if raw else parse_query(query, literal=literal)
    filters: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("role", role),
        ("kind", kind),
        ("session_id", session),
        ("tool_name", tool),
    ):
        if value is not None:
            filters.append(f"AND e.{column} = ?")
            params.append(value)
    if since:
        filters.append("AND e.ts >= ?")
        params.append(since)
    if until:
        filters.append("AND e.ts < ?")
        params.append(until)
    try:
        return _search(conn, parsed, raw, filters, params, limit, highlight)
    except sqlite3.OperationalError as exc:
        # FTS5 words its query errors many ways ("unterminated string",
        # "unknown special query", "fts5: syntax error near ..."); what is not
        # about the database itself is about the query.
        message = str(exc).rstrip(": ") or "rejected by SQLite"
        if any(word in message for word in _DATABASE_TROUBLE):
            raise
        if raw:
            raise SearchSyntaxError(
                f"invalid FTS5 query {query!r}: {message} "
                "(drop --raw to search for the words as given)"
            ) from None
        raise SearchSyntaxError(
            f"invalid search query {query!r}: {message} "
            "(--literal takes every word as is)"
        ) from None


def _search(
    conn: sqlite3.Connection,
    parsed: ParsedQuery,
    raw: bool,
    filters: list[str],
    params: list[Any],
    limit: int,
    highlight: tuple[str, str],
) -> list[SearchHit]:
    match = parsed.match
    join = "JOIN events e ON e.pk = events_fts.rowid" if filters else ""
    where = f"WHERE events_fts MATCH ? {' '.join(filters)}"
    counts = _term_counts(conn, parsed, raw)
    if max(counts.values(), default=0) <= COMMON_EVENTS:
        # Every word is rare: bm25 over all matches is cheap. Rank over rowids
        # first; rows and snippets only for the few winners.
        ranked = conn.execute(
            f"SELECT events_fts.rowid, events_fts.rank FROM events_fts {join} {where} "
            "ORDER BY events_fts.rank LIMIT ?",
            [match, *params, limit],
        ).fetchall()
        order = [(row[0], row[1]) for row in ranked]
    else:
        # A common word: the newest CANDIDATES matches (the index walks them in
        # rowid order and stops), ranked by bm25 computed here.
        pks = [
            row[0]
            for row in conn.execute(
                f"SELECT events_fts.rowid FROM events_fts {join} {where} "
                "ORDER BY events_fts.rowid DESC LIMIT ?",
                [match, *params, CANDIDATES],
            )
        ]
        order = _rank_candidates(conn, parsed, counts, pks, raw)[:limit]
    if not order:
        return []
    columns = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
    marks = ",".join("?" * len(order))
    rows = conn.execute(
        f"SELECT e.pk, {columns}, snippet(events_fts, 0, ?, ?, '…', 16) "
        "FROM events_fts JOIN events e ON e.pk = events_fts.rowid "
        f"WHERE events_fts MATCH ? AND events_fts.rowid IN ({marks})",
        [highlight[0], highlight[1], match, *(pk for pk, _ in order)],
    ).fetchall()
    by_pk = {row[0]: row for row in rows}
    n = len(EVENT_COLUMNS.split(","))
    hits = []
    for pk, rank in order:
        row = by_pk.get(pk)
        if row is not None:
            hits.append(
                SearchHit(row_to_event(tuple(row)[1 : n + 1]), row[n + 1], rank)
            )
    return hits


def _term_counts(
    conn: sqlite3.Connection, parsed: ParsedQuery, raw: bool
) -> dict[str, float]:
    """Events per query word, exact up to COMMON_EVENTS, estimated above.

    Each count is a probe of the newest COMMON_EVENTS + 1 matches, so it costs
    at most that many index entries whatever the word.
    """
    if raw:
        probes = {parsed.match: parsed.match}
    else:
        probes = {}
        for term in parsed.terms:
            if term.prefix:
                probes[" ".join(term.tokens) + "*"] = _fts_term(term)
            else:
                for token in term.tokens:
                    probes[token] = '"' + token + '"'
    top = conn.execute("SELECT max(rowid) FROM events").fetchone()[0] or 0
    counts: dict[str, float] = {}
    for key, expr in probes.items():
        found, oldest = conn.execute(
            "SELECT count(*), min(rowid) FROM (SELECT rowid FROM events_fts "
            "WHERE events_fts MATCH ? ORDER BY rowid DESC LIMIT ?)",
            (expr, COMMON_EVENTS + 1),
        ).fetchone()
        if found > COMMON_EVENTS:
            # As dense over the whole log as over its newest stretch.
            found = found * top / max(1, top - oldest + 1)
        counts[key] = found
    return counts


def _fts_term(term: Term) -> str:
    return '"' + " ".join(term.tokens) + '"' + ("*" if term.prefix else "")


def _rank_candidates(
    conn: sqlite3.Connection,
    parsed: ParsedQuery,
    counts: dict[str, float],
    pks: list[int],
    raw: bool,
) -> list[tuple[int, float]]:
    """``pks`` ordered by bm25 (as FTS5 computes it), best first, as (pk, rank)."""
    if not pks:
        return []
    marks = ",".join("?" * len(pks))
    docs = {
        pk: tokens_of((content or "")[:_SCORED_CHARS])
        for pk, content in conn.execute(
            f"SELECT pk, content FROM events WHERE pk IN ({marks})", pks
        )
    }
    wanted = [t for t in parsed.terms if not t.negated and t.tokens]
    if raw or not wanted:
        # A raw query's words are unknown here: the newest matches first.
        return [(pk, -float(len(pks) - i)) for i, pk in enumerate(pks)]
    total = max(conn.execute("SELECT max(rowid) FROM events").fetchone()[0] or 1, 1)
    avgdl = sum(len(d) for d in docs.values()) / max(len(docs), 1) or 1.0
    idf = {}
    for term in wanted:
        key = " ".join(term.tokens) + "*" if term.prefix else None
        n = (
            counts.get(key)
            if key
            else min((counts.get(t, 0.0) for t in term.tokens), default=0.0)
        )
        n = n or 0.0
        idf[term] = max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)
    scored = []
    for pk in pks:
        doc = docs.get(pk, ())
        norm = _K1 * (1 - _B + _B * len(doc) / avgdl)
        score = 0.0
        for term in wanted:
            tf = _occurrences(doc, term)
            if tf:
                score += idf[term] * tf * (_K1 + 1) / (tf + norm)
        scored.append((pk, -score))
    # Best score first; among equals the newest (pks come newest first).
    position = {pk: i for i, pk in enumerate(pks)}
    scored.sort(key=lambda item: (item[1], position[item[0]]))
    return scored


def _occurrences(doc: tuple[str, ...], term: Term) -> int:
    words = term.tokens
    size = len(words)
    if size == 1:
        if term.prefix:
            return sum(1 for w in doc if w.startswith(words[0]))
        return doc.count(words[0])
    count = 0
    for i in range(len(doc) - size + 1):
        if doc[i : i + size - 1] == words[:-1] and (
            doc[i + size - 1].startswith(words[-1])
            if term.prefix
            else doc[i + size - 1] == words[-1]
        ):
            count += 1
    return count
