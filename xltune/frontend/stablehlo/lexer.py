"""Tokens of MLIR text, scanned on demand with one compiled master regex.

The lexer never builds a token list: the parser asks for the token at the current offset
(`peek`) and moves past it (`next`). Parsers of sub-languages (tensor types, dense literals)
work on the raw text from the current offset with their own regexes and then `seek` past
what they consumed. Offsets turn into line/column only when a location is needed.

`loc(...)` locations (possibly nested) are skipped like whitespace and comments.
"""
from __future__ import annotations

import bisect
import re

from ...errors import ParseError, SourceLoc

# Token kinds
VALUE = "value"      # %name or %name#3
SYMBOL = "symbol"    # @name or @"quoted"
BLOCK = "block"      # ^bb0
HASH = "hash"        # #stablehlo, #stablehlo.gather, #loc3
BANG = "bang"        # !stablehlo.token
STRING = "string"    # "..."
FLOAT = "float"      # -1.5e+3
HEXINT = "hexint"    # 0x7F800000
INT = "int"          # -12
IDENT = "ident"      # stablehlo.add, tensor, x, e5m10, true
PUNCT = "punct"      # -> ( ) [ ] { } < > , : = ? * + -
EOF = "eof"

_NAME = r"[A-Za-z0-9_$.\-]+"
# Blanks and // comments, then one token; `loc(` starts a location to skip (it nests).
_TOKEN = re.compile(
    r"(?:\s+|//[^\n]*)*"
    r"(?:(?P<loc>loc\()"
    r"|(?P<value>%" + _NAME + r"(?:#[0-9]+)?)"
    r"|(?P<symbol>@(?:[A-Za-z_$.\-][A-Za-z0-9_$.\-]*|\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"))"
    r"|(?P<block>\^" + _NAME + r")"
    r"|(?P<hash>#[A-Za-z_][A-Za-z0-9_$.]*)"
    r"|(?P<bang>![A-Za-z_][A-Za-z0-9_$.]*)"
    r"|(?P<string>\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\")"
    r"|(?P<hexint>[-+]?0x[0-9a-fA-F]+)"
    r"|(?P<float>[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)"
    r"|(?P<int>[-+]?[0-9]+)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_$.]*)"
    r"|(?P<punct>->|[()\[\]{}<>,:=?*+\-])"
    r"|(?P<eof>\Z))"
)
# Whitespace and // comments alone (for the raw-text sub-parsers; `_skip` adds `loc(...)`).
_SKIP = re.compile(r"(?:\s+|//[^\n]*)+")
_PAREN_SCAN = re.compile(r"[()\"]")
_STRING_AT = re.compile(r"\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"")
_KINDS = [None, "loc", VALUE, SYMBOL, BLOCK, HASH, BANG, STRING, HEXINT, FLOAT, INT, IDENT, PUNCT, EOF]


class Lexer:
    """On-demand tokenizer over `text`; line numbers are offset by `first_line - 1`."""

    def __init__(self, text: str, source: str = "<input>", first_line: int = 1):
        self.text = text
        self.source = source
        self.first_line = first_line
        self.pos = 0            # offset of the next unread character
        self._peeked = None     # (kind, text, start, end) at self.pos, or None
        self._line_starts = None

    # ---- locations -------------------------------------------------------------------------
    def loc(self, offset: int) -> SourceLoc:
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset) - 1
        col = offset - self._line_starts[line] + 1
        return SourceLoc(line + self.first_line, col, self.source)

    def error(self, message: str, offset: int | None = None, snippet: str | None = None) -> ParseError:
        """A ParseError at `offset` (default: the next token)."""
        if offset is None:
            kind, text, offset, _ = self.peek()
            if snippet is None:
                snippet = "end of input" if kind == EOF else text
        elif snippet is None:
            m = _TOKEN.match(self.text, offset)
            snippet = m.group(0) if m else self.text[offset:offset + 1]
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        return ParseError(message, self.loc(offset), snippet)

    # ---- scanning --------------------------------------------------------------------------
    def _skip(self, pos: int) -> int:
        text = self.text
        while True:
            m = _SKIP.match(text, pos)
            if m:
                pos = m.end()
            if text.startswith("loc(", pos) and (pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in "_$.")):
                pos = self._skip_loc(pos)
                continue
            return pos

    def _skip_loc(self, start: int) -> int:
        """Offset just past the `)` closing the `loc(` at `start`."""
        text = self.text
        depth = 0
        pos = start + 3
        while True:
            m = _PAREN_SCAN.search(text, pos)
            if m is None:
                raise self.error("unterminated loc(...)", start, "loc(")
            c = m.group(0)
            if c == '"':
                s = _STRING_AT.match(text, m.start())
                if s is None:
                    raise self.error("unterminated string", m.start(), '"')
                pos = s.end()
                continue
            pos = m.end()
            if c == "(":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return pos

    def peek(self):
        """(kind, text, start, end) of the next token, without consuming it."""
        p = self._peeked
        if p is not None:
            return p
        text = self.text
        pos = self.pos
        while True:
            m = _TOKEN.match(text, pos)
            if m is None:  # an unterminated string or a stray character
                blank = _SKIP.match(text, pos)
                pos = blank.end() if blank else pos
                c = text[pos]
                if c == '"':
                    raise self.error("unterminated string", pos, '"')
                raise self.error(f"unexpected character {c!r}", pos, c)
            kind = _KINDS[m.lastindex]
            start = m.start(m.lastindex)
            if kind == "loc" and (start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_$.")):
                pos = self._skip_loc(start)
                continue
            if kind == "loc":  # `loc(` glued to a previous word: just the identifier
                tok = (IDENT, "loc", start, start + 3)
            else:
                tok = (kind, m.group(m.lastindex), start, m.end())
            break
        self._peeked = tok
        return tok

    def next(self):
        tok = self.peek()
        self.pos = tok[3]
        self._peeked = None
        return tok

    def seek(self, pos: int):
        self.pos = pos
        self._peeked = None

    def skip_ws(self) -> int:
        """Offset of the next non-blank character (used before raw-text sub-parsers)."""
        self._peeked = None
        self.pos = self._skip(self.pos)
        return self.pos

    # ---- conveniences ----------------------------------------------------------------------
    def at(self, text: str) -> bool:
        """Is the next token exactly `text` (punctuation or identifier)?"""
        return self.peek()[1] == text

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text:
            self.next()
            return True
        return False

    def expect(self, text: str, what: str | None = None):
        tok = self.peek()
        if tok[1] != text:
            raise self.error(f"expected {what or repr(text)}")
        return self.next()

    def expect_kind(self, kind: str, what: str):
        tok = self.peek()
        if tok[0] != kind:
            raise self.error(f"expected {what}")
        return self.next()

    def skip_braces(self, open_pos: int) -> int:
        """Offset just past the `}` matching the `{` at open_pos (strings and comments respected)."""
        text = self.text
        depth = 0
        pos = open_pos
        scan = _BRACE_SCAN
        while True:
            m = scan.search(text, pos)
            if m is None:
                at = self.loc(open_pos)
                raise self.error(f"unexpected end of input: the '{{' at line {at.line}, column {at.col} "
                                 f"is never closed", len(text), "end of input")
            c = m.group(0)
            if c == '"':
                s = _STRING_AT.match(text, m.start())
                if s is None:
                    raise self.error("unterminated string", m.start(), '"')
                pos = s.end()
            elif c == "//":
                nl = text.find("\n", m.end())
                pos = len(text) if nl < 0 else nl
            else:
                pos = m.end()
                if c == "{":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        return pos


_BRACE_SCAN = re.compile(r"[{}\"]|//")


def unescape(s: str) -> str:
    """The value of an MLIR string literal body (without the quotes)."""
    if "\\" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        d = s[i + 1]
        if d in "\\\"":
            out.append(d)
            i += 2
        elif d == "n":
            out.append("\n")
            i += 2
        elif d == "t":
            out.append("\t")
            i += 2
        elif i + 2 < n and all(ch in "0123456789abcdefABCDEF" for ch in s[i + 1:i + 3]):
            out.append(chr(int(s[i + 1:i + 3], 16)))
            i += 3
        else:
            out.append(d)
            i += 2
    return "".join(out)
