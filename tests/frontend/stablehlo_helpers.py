"""Small helpers shared by the StableHLO parser tests."""
from __future__ import annotations

from xltune.frontend.stablehlo import parse
from xltune.ir.printer import print_module


def func(body: str, args: str = "", results: str = "") -> str:
    res = f" -> {results}" if results else ""
    return f"func.func @main({args}){res} {{\n{body}\n}}\n"


def ops(module, comp=None):
    """The non-parameter instructions of the entry (or `comp`)."""
    c = comp if comp is not None else module.entry
    return [i for i in c.instructions if i.opcode != "parameter"]


def one(text: str, opcode: str):
    """Parse text and return its only instruction with `opcode` (in the entry function)."""
    m = parse(text)
    found = [i for i in m.entry.instructions if i.opcode == opcode]
    assert len(found) == 1, [i.opcode for i in m.entry.instructions]
    return found[0]


def roundtrip(text: str):
    """parse -> print -> parse gives an equal module, and printing is idempotent."""
    m = parse(text)
    s1 = print_module(m)
    m2 = parse(s1, "<printed>")
    assert m.equals(m2), s1
    assert print_module(m2) == s1
    return m, s1
