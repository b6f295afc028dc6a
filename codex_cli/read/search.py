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
from .queries import events_by_pk

# A word in more events than this is common: bm25 over it would scan too much.
COMMON_EVENTS = 1000
# How many of the newest matches a query with a common word ranks.
CANDIDATES = 300
# A prefix is spelled out as at most this many words (else FTS5 expands it).
MAX_EXPANSION = 256
# ...and a shorter prefix than this of more words is refused, not expanded.
BROAD_PREFIX = 3
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
# FTS5 expands a prefix into every word it starts, in full: one letter is most
# of the index (t* takes longer than grep over the log).
_SHORT_PREFIX = "{word!r}: a prefix needs at least 2 letters or digits before '*'"


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
    # The match's pieces, with each prefix term as its Term, for expansion.
    pieces: tuple[str | Term, ...] = ()


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
    pieces: list[str | Term] = []

    def operand(text: str, prefix: bool, fts: str) -> None:
        nonlocal expect_operand, pending_not
        negated = pending_not or bool(negating)
        pending_not = False
        term = Term(tokens_of(text), prefix, negated)
        terms.append(term)
        parts.append(fts)
        pieces.append(term if prefix else fts)
        expect_operand = False

    for m in _TOKEN.finditer(query):
        if m.group("paren") == "(":
            if pending_not:
                negating.append(depth)
                pending_not = False
            depth += 1
            parts.append("(")
            pieces.append("(")
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
            pieces.append(")")
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
                pieces.append(word)
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
            if prefix and len((tokens_of(stem) or ("",))[-1]) < 2:
                raise bad(_SHORT_PREFIX.format(word=word))
            quoted = '"' + stem + '"'
            operand(stem, prefix, quoted + ("*" if prefix else ""))
        else:
            phrase = m.group("phrase")
            if not m.group("closed"):
                raise bad("a phrase is missing its closing '\"'")
            if not phrase.strip():
                raise bad('empty phrase ""')
            prefix = bool(m.group("pstar"))
            if prefix and len((tokens_of(phrase) or ("",))[-1]) < 2:
                raise bad(_SHORT_PREFIX.format(word=m.group(0)))
            operand(phrase, prefix, '"' + phrase + '"' + ("*" if prefix else ""))
        last_operator = ""
    if expect_operand:
        raise bad(
            f"{last_operator!r} needs a word after it" if last_operator else "no words"
        )
    if depth:
        raise bad("'(' without a matching ')'")
    return ParsedQuery(" ".join(parts), tuple(terms), tuple(pieces))


def filter_clauses(
    *,
    role: str | None = None,
    kind: str | None = None,
    session: str | None = None,
    tool: str | None = None,
    model: str | None = None,
    project: str | None = None,
    failed: bool = False,
    since: str | None = None,
    until: str | None = None,
) -> tuple[list[str], list[Any]]:
    """The SQL conditions (``AND ...`` on events aliased ``e``) of search's filters.

    Shared with search by meaning, so every mode filters the same way.
    """
    filters: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("role", role),
        ("kind", kind),
        ("session_id", session),
        ("tool_name", tool),
        ("model", model),
    ):
        if value is not None:
            filters.append(f"AND e.{column} = ?")
            params.append(value)
    if project is not None:
        filters.append(
            "AND e.session_id IN (SELECT id FROM sessions WHERE project = ?)"
        )
        params.append(project)
    if failed:
        filters.append("AND e.failed = 1")
    if since:
        filters.append("AND e.ts >= ?")
        params.append(since)
    if until:
        filters.append("AND e.ts < ?")
        params.append(until)
    return filters, params


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    role: str | None = None,
    kind: str | None = None,
    session: str | None = None,
    tool: str | None = None,
    model: str | None = None,
    project: str | None = None,
    failed: bool = False,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
    offset: int = 0,
    order: str = "rank",
    raw: bool = False,
    highlight: tuple[str, str] = ("[", "]"),
    literal: bool = False,
) -> list[SearchHit]:
    """The best ``limit`` matches for ``query``, best first (after skipping ``offset``).

    ``query`` uses the syntax of :func:`parse_query`; ``literal`` takes every
    word as is; ``raw`` passes it to FTS5 untouched. ``project`` is the
    session's project (its git root or directory); ``failed`` keeps only
    failed tool results. ``order="recent"`` puts the newest matches first
    instead of the best.
    """
    if order not in ("rank", "recent"):
        raise UsageError(f"invalid order {order!r}: expected rank or recent")
    if not query.strip():
        raise UsageError("empty search query: give at least one word")
    if limit < 1:
        raise UsageError(f"invalid limit {limit}: expected 1 or more")
    if offset < 0:
        raise UsageError(f"invalid offset {offset}: expected 0 or more")
    if raw and literal:
        raise UsageError("give --raw or --literal, not both")
    parsed = ParsedQuery(query, ()) if raw else parse_query(query, literal=literal)
    filters, params = filter_clauses(
        role=role,
        kind=kind,
        session=session,
        tool=tool,
        model=model,
        project=project,
        failed=failed,
        since=since,
        until=until,
    )
    if session is not None:
        # A session's events lie between its first and last rowid: FTS5 walks
        # only that stretch of each word's list (a common word's walk through
        # the newest matches would otherwise cross the whole log).
        low, high = conn.execute(
            "SELECT min(pk), max(pk) FROM events WHERE session_id = ?", (session,)
        ).fetchone()
        if low is None:
            return []
        filters.append("AND events_fts.rowid BETWEEN ? AND ?")
        params += [low, high]
    try:
        return _search(
            conn, parsed, raw, filters, params, (limit, offset), order, highlight
        )
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
    window: tuple[int, int],
    order_by: str,
    highlight: tuple[str, str],
) -> list[SearchHit]:
    limit, offset = window
    match = _expand_prefixes(conn, parsed)
    join = "JOIN events e ON e.pk = events_fts.rowid" if filters else ""
    where = f"WHERE events_fts MATCH ? {' '.join(filters)}"
    top = conn.execute("SELECT max(rowid) FROM events").fetchone()[0] or 0
    counts = _term_counts(conn, parsed, raw, top)
    snippets: dict[int, str] | None = None
    if order_by == "recent":
        # The newest first: the index walks its lists in rowid order and stops.
        newest = conn.execute(
            f"SELECT events_fts.rowid FROM events_fts {join} {where} "
            "ORDER BY events_fts.rowid DESC LIMIT ? OFFSET ?",
            [match, *params, limit, offset],
        ).fetchall()
        order = [(row[0], float(offset + i)) for i, row in enumerate(newest)]
    elif max(counts.values(), default=0) <= COMMON_EVENTS:
        # Every word is rare: bm25 over all matches is cheap. Rank over rowids
        # first; rows and snippets only for the few winners.
        ranked = conn.execute(
            f"SELECT events_fts.rowid, events_fts.rank FROM events_fts {join} {where} "
            "ORDER BY events_fts.rank LIMIT ? OFFSET ?",
            [match, *params, limit, offset],
        ).fetchall()
        order = [(row[0], row[1]) for row in ranked]
    else:
        # A common word: the newest CANDIDATES matches (the index walks them in
        # rowid order and stops), ranked by bm25 computed here. A prefix query
        # is expanded in full at every evaluation: evaluate it once, snippets
        # included.
        prefix = "*" in match
        snippet = "snippet(events_fts, 0, ?, ?, '…', 16)" if prefix else "NULL"
        found = conn.execute(
            f"SELECT events_fts.rowid, {snippet} FROM events_fts {join} {where} "
            "ORDER BY events_fts.rowid DESC LIMIT ?",
            [
                *(highlight if prefix else ()),
                match,
                *params,
                max(CANDIDATES, offset + limit),
            ],
        ).fetchall()
        pks = [row[0] for row in found]
        ranked = _rank_candidates(conn, parsed, counts, pks, raw, top)
        order = ranked[offset : offset + limit]
        if prefix:
            snippets = {row[0]: row[1] for row in found}
    if not order:
        return []
    if snippets is None:
        snippets = _snippets(conn, match, [pk for pk, _ in order], highlight)
    events = events_by_pk(conn, [pk for pk, _ in order])
    return [
        SearchHit(events[pk], snippets.get(pk, ""), rank)
        for pk, rank in order
        if pk in events
    ]


def _snippets(
    conn: sqlite3.Connection, match: str, pks: list[int], highlight: tuple[str, str]
) -> dict[int, str]:
    """FTS5's snippet of each of ``pks``: one seek in the index each."""
    found: dict[int, str] = {}
    for pk in pks:
        row = conn.execute(
            "SELECT snippet(events_fts, 0, ?, ?, '…', 16) FROM events_fts "
            "WHERE events_fts MATCH ? AND rowid = ?",
            (highlight[0], highlight[1], match, pk),
        ).fetchone()
        if row:
            found[pk] = row[0]
    return found


def _term_counts(
    conn: sqlite3.Connection, parsed: ParsedQuery, raw: bool, top: int
) -> dict[str, float]:
    """Events per query word, exact up to COMMON_EVENTS, estimated above.

    Each count is a probe of the newest COMMON_EVENTS + 1 matches, so it costs
    at most that many index entries whatever the word. A prefix (which FTS5
    expands in full, whatever the limit) counts as common without a probe:
    it is evaluated once, for the candidates.
    """
    probes: dict[str, str] = {}
    counts: dict[str, float] = {}
    if raw:
        if "*" in parsed.match:
            return {parsed.match: math.inf}
        probes[parsed.match] = parsed.match
    for term in parsed.terms:
        if term.prefix:
            counts[_key(term)] = math.inf
        else:
            for token in term.tokens:
                probes[token] = '"' + token + '"'
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


def _expand_prefixes(conn: sqlite3.Connection, parsed: ParsedQuery) -> str:
    """The match with each prefix spelled out as the words it starts (``a OR b``).

    FTS5 answers ``par*`` by merging the whole list of every word starting
    ``par`` before it returns a row (60 ms for a common word at a million
    events, at every evaluation); an OR of those words is walked lazily like
    any word. A prefix of more than MAX_EXPANSION words is left to FTS5 if it
    has at least BROAD_PREFIX letters, refused if shorter.
    """
    if not any(isinstance(piece, Term) for piece in parsed.pieces):
        return parsed.match
    out = []
    for piece in parsed.pieces:
        if not isinstance(piece, Term):
            out.append(piece)
            continue
        stem = piece.tokens[-1]
        words = _words_starting(conn, stem)
        if words is None and len(stem) < BROAD_PREFIX:
            # FTS5 would merge the lists of all those words: as slow as grep.
            raise UsageError(
                f"prefix {stem + '*'!r} starts more than {MAX_EXPANSION} words "
                f"of the log: give at least {BROAD_PREFIX} letters"
            )
        if not words:  # too many, none, or no vocabulary table: FTS5's prefix
            out.append(_fts_term(piece))
            continue
        lead = " ".join(piece.tokens[:-1])
        out.append(
            "("
            + " OR ".join('"' + f"{lead} {word}".strip() + '"' for word in words)
            + ")"
        )
    return " ".join(out)


def _words_starting(conn: sqlite3.Connection, stem: str) -> list[str] | None:
    """The indexed words starting with ``stem``, None if more than MAX_EXPANSION.

    One index seek per word through an ``fts5vocab`` table of instances,
    which (unlike the per-word document counts of a ``row`` table) reads only
    the first entry of each word.
    """
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.codex_fts_words "
            "USING fts5vocab(main, events_fts, instance)"
        )
    except sqlite3.DatabaseError:
        # A connection that may not create temp tables: FTS5's own prefix.
        return []
    end = stem[:-1] + chr(ord(stem[-1]) + 1)
    words: list[str] = []
    low = stem
    while len(words) <= MAX_EXPANSION:
        row = conn.execute(
            "SELECT term FROM temp.codex_fts_words WHERE term >= ? AND term < ? LIMIT 1",
            (low, end),
        ).fetchone()
        if row is None:
            return words
        words.append(row[0])
        low = row[0] + "\x01"  # just after it: words are letters and digits
    return None


def _fts_term(term: Term) -> str:
    return '"' + " ".join(term.tokens) + '"' + ("*" if term.prefix else "")


def _key(term: Term) -> str:
    return " ".join(term.tokens) + ("*" if term.prefix else "")


def _fold(text: str) -> str:
    """Lower case without diacritics, as the tokenizer folds words."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )


def _pattern(term: Term) -> re.Pattern[str]:
    """Where ``term`` occurs in folded text: whole tokens, any separators between."""
    first = re.escape(term.tokens[0])
    # The word-start check follows the first token rather than preceding it,
    # so the pattern starts with a literal, which `re` finds fast.
    body = first + rf"(?<![^\W_]{first})"
    for token in term.tokens[1:]:
        body += r"[\W_]+" + re.escape(token)
    return re.compile(body + (r"[^\W_]*" if term.prefix else r"(?![^\W_])"))


def _varint(blob: bytes) -> int:
    """SQLite's varint, as FTS5 stores a document's token count."""
    value = 0
    for i, byte in enumerate(blob[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value


def _rank_candidates(
    conn: sqlite3.Connection,
    parsed: ParsedQuery,
    counts: dict[str, float],
    pks: list[int],
    raw: bool,
    top: int,
) -> list[tuple[int, float]]:
    """``pks`` ordered by bm25 (FTS5's formula), best first, as (pk, rank).

    Term frequencies come from the text (its first _SCORED_CHARS), document
    lengths from FTS5's own docsize table, document frequencies from the
    probes; the average length is the candidates'.
    """
    if not pks:
        return []
    wanted = [t for t in parsed.terms if not t.negated and t.tokens]
    if raw or not wanted:
        # A raw query's words are unknown here: the newest matches first.
        return [(pk, -float(len(pks) - i)) for i, pk in enumerate(pks)]
    total = max(top, 1)
    if len(pks) < CANDIDATES:
        seen = float(len(pks))
    else:
        seen = len(pks) * total / max(1, total - min(pks) + 1)
    idf = {}
    for term in wanted:
        n = seen if term.prefix else min(counts.get(t, seen) for t in term.tokens)
        idf[term] = max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)
    patterns = [(term, _pattern(term)) for term in wanted]
    marks = ",".join("?" * len(pks))
    docs = conn.execute(
        f"SELECT e.pk, substr(e.content, 1, {_SCORED_CHARS}), d.sz FROM events e "
        f"LEFT JOIN events_fts_docsize d ON d.id = e.pk WHERE e.pk IN ({marks})",
        pks,
    ).fetchall()
    lengths = {
        pk: (_varint(sz) if sz else len((content or "").split()) or 1)
        for pk, content, sz in docs
    }
    avgdl = sum(lengths.values()) / max(len(lengths), 1) or 1.0
    scores: dict[int, float] = {}
    for pk, content, _ in docs:
        text = _fold(content or "")
        norm = _K1 * (1 - _B + _B * lengths[pk] / avgdl)
        score = 0.0
        for term, pattern in patterns:
            tf = len(pattern.findall(text))
            if tf:
                score += idf[term] * tf * (_K1 + 1) / (tf + norm)
        scores[pk] = -score
    # Best score first; among equals the newest (pks come newest first).
    position = {pk: i for i, pk in enumerate(pks)}
    ranked = sorted(scores.items(), key=lambda item: (item[1], position[item[0]]))
    return ranked


def count_matches(conn: sqlite3.Connection, query: str) -> int:
    """How many events contain every word of ``query`` (filters aside): cheap,
    and what ranking them costs grows with."""
    match = quote_fts(query)
    if not match.strip():
        return 0
    return int(
        conn.execute(
            "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", (match,)
        ).fetchone()[0]
    )
