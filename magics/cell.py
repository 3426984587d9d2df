"""Turning an `%%xla` cell into a compiled program: which language it is, what to compile,
and errors that point at the cell's own line and column."""
from __future__ import annotations

import ast
import itertools
import linecache
import re
from dataclasses import dataclass

from xltune.errors import SourceLoc, XltuneError

CELL_SOURCE = "%%xla cell"
_cells = itertools.count(1)
_MLIR_START = re.compile(r"^\s*(module\b|func\.func\b|#loc|//|\"?stablehlo\.)")


class CellError(XltuneError):
    """A cell could not be compiled; loc is (line, column) within the cell's text."""

    def __init__(self, message: str, loc: SourceLoc, kind: str = "", original: Exception | None = None,
                 cell: str = ""):
        self.kind = kind
        self.original = original
        self.cell = cell
        super().__init__(message, loc)

    def _format(self) -> str:
        head = f"{self.kind + ' ' if self.kind else ''}at line {self.loc.line}, column {self.loc.col} of the cell: {self.message}"
        lines = self.cell.splitlines()
        if 1 <= self.loc.line <= len(lines):
            text = lines[self.loc.line - 1]
            head += f"\n    {text}\n    {' ' * max(0, self.loc.col - 1)}^"
        return head


def language(cell: str) -> str:
    """'stablehlo' or 'python'. MLIR starts with `module`, `func.func`, a comment or `#loc`;
    anything else that Python can parse and that defines a function is Python."""
    for line in cell.splitlines():
        if not line.strip():
            continue
        if _MLIR_START.match(line):
            return "stablehlo"
        break
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return "stablehlo" if "stablehlo." in cell or "func.func" in cell else "python"
    return "python" if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in tree.body) else "stablehlo"


def cell_error(e: XltuneError, cell: str, sources: tuple[str, ...]) -> XltuneError:
    """e re-pointed at the cell when its location is in the cell's text; else e itself."""
    loc = getattr(e, "loc", None)
    if loc is None or loc.source not in sources:
        return e
    message = e.message
    if getattr(e, "snippet", ""):
        message += f" (at {e.snippet!r})"
    # the tracer quotes the offending line after the message; the caret form below replaces it
    message = message.split("\n    ", 1)[0]
    return CellError(message, SourceLoc(loc.line, loc.col, CELL_SOURCE), type(e).__name__, e, cell)


@dataclass
class CellProgram:
    kind: str                 # "stablehlo" | "python"
    program: object           # the StableHLO text, or the traced function
    default_name: str         # the function's or the module's name
    filename: str             # where tracebacks and trace errors point for this cell


def python_program(cell: str, namespace: dict, fn_name: str | None = None) -> CellProgram:
    """Run the cell's Python in `namespace` (as a notebook cell would) and pick the function to
    compile: `fn_name`, else the last function the cell defines at its top level."""
    filename = f"<xla-cell-{next(_cells)}>"
    try:
        tree = ast.parse(cell, filename)
    except SyntaxError as e:
        raise CellError(e.msg, SourceLoc(e.lineno or 1, e.offset or 1, CELL_SOURCE), "SyntaxError", e,
                        cell) from None
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if fn_name is None and not defs:
        raise CellError("a Python cell must define a function to compile (def f(x: xnp.f32[...]): ...)",
                        SourceLoc(1, 1, CELL_SOURCE), cell=cell)
    # register the text so tracebacks and the tracer's error quotes can show the cell's lines
    linecache.cache[filename] = (len(cell), None, cell.splitlines(True), filename)
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - this is the user's own cell
    name = fn_name or defs[-1]
    fn = namespace.get(name)
    if not callable(fn):
        raise CellError(f"{name!r} is not a function the cell defines (it defines: {', '.join(defs) or 'none'})",
                        SourceLoc(1, 1, CELL_SOURCE), cell=cell)
    return CellProgram("python", fn, name, filename)


def stablehlo_program(cell: str) -> CellProgram:
    name = None
    m = re.search(r"^\s*module\s+@([\w.$-]+)", cell, re.M)
    if m:
        name = m.group(1)
    else:
        m = re.search(r"func\.func\s+(?:public\s+|private\s+)?@([\w.$-]+)", cell)
        name = m.group(1) if m else "xla_program"
    return CellProgram("stablehlo", cell, _identifier(name), "<input>")


def _identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    return ident
