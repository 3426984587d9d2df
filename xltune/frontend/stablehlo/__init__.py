"""StableHLO MLIR text -> Module (hand-written, no MLIR dependency).

    parse(text, source="<input>")   -> Module
    parse_file(path)                -> Module
    split_chunks(text)              -> [(first_line, chunk_text)]  for `// -----` split files
    parse_chunks(text, source)      -> [(first_line, Module)]

Every failure is an XltuneError (ParseError, UnsupportedOpError) carrying line and column of
the offending text; line numbers of chunks refer to the whole file.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...ir.module import Module
from .parser import parse_text

_SPLIT = re.compile(r"^// -----[ \t]*\r?$", re.MULTILINE)


def parse(text: str, source: str = "<input>", first_line: int = 1) -> Module:
    """Parse StableHLO text into a Module. `first_line` numbers the text's first line (for a
    chunk of a larger file)."""
    return parse_text(text, source, first_line)


def parse_file(path) -> Module:
    path = Path(path)
    return parse_text(path.read_text(), str(path))


def split_chunks(text: str) -> list[tuple[int, str]]:
    """Split at `// -----` lines; each chunk with the 1-based line number it starts on."""
    chunks = []
    line = 1
    pos = 0
    for m in _SPLIT.finditer(text):
        chunks.append((line, text[pos:m.start()]))
        line += text.count("\n", pos, m.end()) + 1
        pos = m.end() + 1 if m.end() < len(text) else m.end()
    chunks.append((line, text[pos:]))
    return chunks


def parse_chunks(text: str, source: str = "<input>") -> list[tuple[int, Module]]:
    """Parse each `// -----` chunk of a split file separately."""
    return [(first, parse_text(chunk, source, first)) for first, chunk in split_chunks(text)]


__all__ = ["parse", "parse_file", "split_chunks", "parse_chunks"]
