"""Searching and reading a folder of documents (Markdown, text, HTML, PDF) with BM25 ranking.

The index is SQLite's FTS5 (in the standard library's `sqlite3`): BM25 ranking (k1=1.2, b=0.75) over
Porter-stemmed tokens, no extra dependency. PDFs are read with `pypdf`. Documents are cut into passages of a
few lines; a hit names its file and line range, which `read_doc` shows. The index of a folder is kept in
memory and rebuilt when a file in it changes.

Paths are confined to the tool root, or to one of the extra source folders the settings allow
(`BOOCODE_SOURCE_DIRS`): a folder of documents outside the project must be allowed explicitly.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boocode.errors import ToolError
from boocode.tools.base import Tool, ToolContext, ToolOutput
from boocode.tools.paths import confine
from boocode.tools.search import _walk_files
from boocode.tools.web import html_to_text

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".rst", ".adoc", ".org"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
DOC_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf"}
MAX_DOCUMENTS = 2000
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
PASSAGE_WORDS = 120
DEFAULT_RESULTS = 5
SNIPPET_CHARS = 700
DEFAULT_READ_LINES = 200
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = (
    "a an and are as at be by for from has have how in is it its of on "
    "or that the this to was were what when where which who why will with does do did"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Passage:
    """A few consecutive lines of one document (1-based, inclusive)."""

    path: str
    start: int
    end: int
    text: str


def document_lines(path: Path) -> list[str]:
    """The text of a document as lines: HTML as readable text, a PDF page by page (`[page N]` lines)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf_lines(path)
    raw = path.read_bytes()[:MAX_DOCUMENT_BYTES].decode("utf-8", errors="replace")
    if suffix in HTML_SUFFIXES:
        raw = html_to_text(raw)
    return raw.splitlines()


def _pdf_lines(path: Path) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        lines: list[str] = []
        for number, page in enumerate(reader.pages, start=1):
            lines.append(f"[page {number}]")
            lines += (page.extract_text() or "").splitlines()
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise ToolError(f"cannot read PDF {path.name}: {exc}") from None
    return lines


def passages(path: str, lines: Sequence[str]) -> Iterator[Passage]:
    """Paragraphs of `lines` (split at blank lines and Markdown headings), joined while short and cut when
    long, so each passage has roughly `PASSAGE_WORDS` words."""
    block: list[tuple[int, str]] = []
    words = 0

    def flush() -> Iterator[Passage]:
        nonlocal block, words
        if block:
            yield Passage(path, block[0][0], block[-1][0], "\n".join(text for _, text in block))
        block, words = [], 0

    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        heading = stripped.startswith("#") or stripped.startswith("[page ")
        if (not stripped or heading) and words >= PASSAGE_WORDS // 3:
            yield from flush()
        if stripped:
            block.append((number, line.rstrip()))
            words += len(stripped.split())
            if words >= PASSAGE_WORDS:
                yield from flush()
    yield from flush()


class DocumentIndex:
    """A BM25 index of the documents in one folder (or one file)."""

    def __init__(self, documents: dict[str, list[str]], skipped: list[str]) -> None:
        self.documents = documents
        self.skipped = skipped
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE passage USING fts5(path UNINDEXED, start UNINDEXED, stop UNINDEXED, body, "
            "tokenize='porter unicode61')"
        )
        rows = [
            (p.path, p.start, p.end, p.text)
            for name, lines in documents.items()
            for p in passages(name, lines)
        ]
        self._db.executemany("INSERT INTO passage VALUES (?, ?, ?, ?)", rows)
        self.passage_count = len(rows)

    def search(self, query: str, limit: int) -> list[tuple[Passage, float]]:
        """The best passages for `query` (any of its words; rarer words weigh more), best first."""
        terms = [w for w in _WORD.findall(query.lower()) if w not in _STOPWORDS] or _WORD.findall(
            query.lower()
        )
        if not terms:
            return []
        match = " OR ".join(f'"{term}"' for term in dict.fromkeys(terms))
        with self._lock:
            rows = self._db.execute(
                "SELECT path, start, stop, body, bm25(passage) AS rank FROM passage WHERE passage MATCH ? "
                "ORDER BY rank LIMIT ?",
                (match, limit),
            ).fetchall()
        return [(Passage(path, start, stop, body), -rank) for path, start, stop, body, rank in rows]

    def find_phrase(self, phrase: str, limit: int) -> list[tuple[str, int, str]]:
        """(path, line, text) where `phrase` occurs, comparing words only (case, spacing and punctuation
        ignored), so a quote wrapped over lines is found."""
        wanted = _WORD.findall(phrase.lower())
        if not wanted:
            return []
        found: list[tuple[str, int, str]] = []
        for name, lines in self.documents.items():
            words: list[tuple[str, int]] = [
                (word, number) for number, line in enumerate(lines, 1) for word in _WORD.findall(line.lower())
            ]
            tokens = [w for w, _ in words]
            for i in range(len(tokens) - len(wanted) + 1):
                if tokens[i : i + len(wanted)] == wanted:
                    number = words[i][1]
                    found.append((name, number, lines[number - 1].strip()))
                    if len(found) >= limit:
                        return found
        return found


@dataclass(frozen=True)
class SourceScope:
    """Where documents may be read: the tool root and the extra folders allowed by the settings."""

    extra_dirs: tuple[Path, ...] = ()

    def resolve(self, root: Path, user_path: str) -> Path:
        """`user_path` inside the root or an allowed folder; `ToolError` saying how to allow it otherwise."""
        try:
            return confine(root, user_path)
        except ToolError:
            candidate = Path(user_path).expanduser()
            if candidate.is_absolute():
                resolved = candidate.resolve()
                if any(resolved.is_relative_to(d.expanduser().resolve()) for d in self.extra_dirs):
                    return resolved
            raise ToolError(
                f"path {user_path!r} is outside the project; a documents folder outside it must be allowed "
                "with BOOCODE_SOURCE_DIRS (or source_dirs in config.toml)"
            ) from None

    def shown(self, root: Path, path: Path) -> str:
        """How a document is named in results: relative to the root when inside it, else absolute."""
        real_root = root.resolve()
        return path.relative_to(real_root).as_posix() if path.is_relative_to(real_root) else str(path)


_INDEXES: dict[tuple[Path, Path], tuple[tuple[tuple[str, int, int], ...], DocumentIndex]] = {}
_INDEX_LOCK = threading.Lock()


def _document_files(root: Path, target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    real_root = root.resolve()
    walk_root = real_root if target.is_relative_to(real_root) else target
    return [p for p in _walk_files(walk_root, target) if p.suffix.lower() in DOC_SUFFIXES]


def index_for(root: Path, target: Path, scope: SourceScope) -> DocumentIndex:
    """The index of the documents at `target` (a folder or one file), rebuilt when any of them changed."""
    files = _document_files(root, target)
    skipped = (
        [f"{len(files) - MAX_DOCUMENTS} documents over the limit of {MAX_DOCUMENTS}"]
        if len(files) > MAX_DOCUMENTS
        else []
    )
    files = files[:MAX_DOCUMENTS]
    signature = tuple((str(p), (s := p.stat()).st_mtime_ns, s.st_size) for p in files if p.is_file())
    with _INDEX_LOCK:
        cached = _INDEXES.get((root, target))
        if cached is not None and cached[0] == signature:
            return cached[1]
    documents: dict[str, list[str]] = {}
    for path in files:
        try:
            documents[scope.shown(root, path)] = document_lines(path)
        except (ToolError, OSError) as exc:
            skipped.append(f"{scope.shown(root, path)}: {exc}")
    index = DocumentIndex(documents, skipped)
    with _INDEX_LOCK:
        _INDEXES[(root, target)] = (signature, index)
    return index


def _search(root: Path, scope: SourceScope, args: dict[str, Any]) -> ToolOutput:
    target = scope.resolve(root, args.get("path", "."))
    if not target.exists():
        raise ToolError(f"path not found: {args.get('path', '.')}")
    index = index_for(root, target, scope)
    query: str = args["query"]
    limit: int = args.get("limit", DEFAULT_RESULTS)
    where = scope.shown(root, target) or "."
    head = f"{len(index.documents)} documents, {index.passage_count} passages in {where}"
    notes = "".join(f"\n(skipped: {note})" for note in index.skipped[:5])
    if args.get("exact"):
        hits = index.find_phrase(query, limit)
        if not hits:
            return ToolOutput(f"the exact text was not found ({head}){notes}")
        lines = [f"{path}:{line}: {text[:SNIPPET_CHARS]}" for path, line, text in hits]
        return ToolOutput(f"found the exact text ({head}):\n" + "\n".join(lines) + notes)
    results = index.search(query, limit)
    if not results:
        return ToolOutput(f"no passages match {query!r} ({head}){notes}")
    blocks = [
        f"[{n}] {p.path}:{p.start}-{p.end} (score {score:.2f})\n{_clip(p.text)}"
        for n, (p, score) in enumerate(results, start=1)
    ]
    return ToolOutput(f"{len(results)} best passages ({head}):\n\n" + "\n\n".join(blocks) + notes)


def _clip(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + " …"


def _read(root: Path, scope: SourceScope, args: dict[str, Any], char_budget: int) -> ToolOutput:
    path = scope.resolve(root, args["path"])
    if not path.is_file():
        raise ToolError(f"not a file: {args['path']}")
    if path.suffix.lower() not in DOC_SUFFIXES:
        raise ToolError(f"{path.name}: read_doc reads {', '.join(sorted(DOC_SUFFIXES))} files; use read_file")
    lines = document_lines(path)
    offset: int = args.get("offset", 1)
    limit: int = args.get("limit", DEFAULT_READ_LINES)
    if offset > max(len(lines), 1):
        raise ToolError(f"{path.name} has {len(lines)} lines; offset {offset} is past the end")
    shown: list[str] = []
    used = 0
    for number in range(offset, min(offset + limit, len(lines) + 1)):
        entry = f"{number:>6}\t{lines[number - 1]}"
        if shown and used + len(entry) > char_budget:
            break
        shown.append(entry)
        used += len(entry) + 1
    last = offset + len(shown) - 1
    if last < len(lines):
        shown.append(f"(lines {offset}-{last} of {len(lines)}; continue with offset={last + 1})")
    return ToolOutput("\n".join(shown) or f"({scope.shown(root, path)} has no text)")


def doc_tools(extra_dirs: Sequence[Path] = ()) -> tuple[Tool, Tool]:
    """`search_docs` and `read_doc`, reading inside the tool root and the given extra folders."""
    scope = SourceScope(tuple(extra_dirs))

    async def search_docs(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        return await asyncio.to_thread(_search, ctx.root, scope, args)

    async def read_doc(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
        return await asyncio.to_thread(_read, ctx.root, scope, args, ctx.output_limit)

    search = Tool(
        name="search_docs",
        description=(
            "Search a folder of documents (Markdown, text, HTML, PDF) for the best passages, BM25-ranked, "
            "each as path:first-last line. With exact=true, find where an exact quote occurs."
        ),
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words to search for, or the quote with exact."},
                "path": {"type": "string", "description": "Folder or document to search (default `.`)."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 50,
                    "description": f"Most passages to return (default {DEFAULT_RESULTS}).",
                },
                "exact": {"type": "boolean", "description": "Find the query as an exact phrase (a quote)."},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        run=search_docs,
    )
    read = Tool(
        name="read_doc",
        description=(
            "Read a document (Markdown, text, HTML as text, PDF as text) as numbered lines; use offset and "
            "limit for long ones. Line numbers match search_docs results."
        ),
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "The document, as search_docs names it."},
                "offset": {"type": "integer", "minimum": 1, "description": "First line to show (1-based)."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "description": f"Most lines to show (default {DEFAULT_READ_LINES}).",
                },
            },
            "required": ["path"],
            "additionalProperties": False,
        },
        run=read_doc,
    )
    return search, read
