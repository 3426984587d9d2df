"""Type syntax: `tensor<2x3xf32>`, `tensor<complex<f64>>`, `tuple<...>`, `!stablehlo.token`,
function types `(T, U) -> (V, W)` and the type sections after an op's `:`."""
from __future__ import annotations

import re

from ...ir import dtypes
from ...ir.types import TOKEN, TensorType, TupleType
from .lexer import BANG, EOF, IDENT, Lexer

# MLIR spellings only (dtypes.dtype also accepts HLO names such as 's32', which MLIR does not).
ELEMENT_TYPES: dict[str, dtypes.DType] = {d.name: d for d in dtypes.ALL}

_TENSOR = re.compile(r"tensor<((?:[0-9]+x)*)(complex<[A-Za-z0-9]+>|[A-Za-z][A-Za-z0-9]*)>")
_TENSOR_CACHE: dict[str, TensorType] = {}
MAX_DEPTH = 64  # nesting of tuple types / function types


def element_type(lx: Lexer, name: str, offset: int) -> dtypes.DType:
    d = ELEMENT_TYPES.get(name)
    if d is None:
        raise lx.error(f"unknown element type '{name}'", offset, name)
    return d


def parse_tensor_type(lx: Lexer) -> TensorType:
    """At `tensor`: the whole `tensor<...>` read from the raw text."""
    start = lx.skip_ws()
    m = _TENSOR.match(lx.text, start)
    if m is None:
        tail = lx.text[start:start + 200]
        if re.match(r"tensor<[^>]*(\?|\*)", tail):
            raise lx.error("dynamic shapes are not supported (every dimension must be static)", start,
                           tail.split(">")[0] + ">")
        if re.match(r"tensor<[^>]*,", tail):
            raise lx.error("tensor encodings are not supported", start, tail.split(">")[0] + ">")
        em = re.match(r"tensor<((?:[0-9]+x)*)([A-Za-z][A-Za-z0-9]*)", tail)
        if em and em.group(2) not in ELEMENT_TYPES and not em.group(2).startswith("complex"):
            raise lx.error(f"unknown element type '{em.group(2)}'", start + em.start(2), em.group(2))
        raise lx.error("malformed tensor type", start, tail[:40])
    text = m.group(0)
    t = _TENSOR_CACHE.get(text)
    if t is None:
        dims = m.group(1)
        shape = tuple(int(d) for d in dims[:-1].split("x")) if dims else ()
        t = TensorType(shape, element_type(lx, m.group(2), m.start(2)))
        if len(_TENSOR_CACHE) < 4096:
            _TENSOR_CACHE[text] = t
    lx.seek(m.end())
    return t


def parse_type(lx: Lexer, depth: int = 0):
    """One value type: tensor, tuple or token."""
    kind, text, start, _ = lx.peek()
    if kind == IDENT:
        if text == "tensor":
            return parse_tensor_type(lx)
        if text == "tuple":
            if depth > MAX_DEPTH:
                raise lx.error("types nested too deeply")
            lx.next()
            lx.expect("<")
            elems = []
            if not lx.at(">"):
                while True:
                    elems.append(parse_type(lx, depth + 1))
                    if not lx.accept(","):
                        break
            lx.expect(">", "'>' closing tuple<")
            return TupleType(tuple(elems))
        if text in ELEMENT_TYPES or text.startswith("complex"):
            raise lx.error(f"expected a tensor type, got the element type '{text}' "
                           f"(write tensor<{text}> for a scalar)")
    elif kind == BANG:
        if text == "!stablehlo.token":
            lx.next()
            return TOKEN
        raise lx.error(f"unsupported type '{text}'")
    if kind == EOF:
        raise lx.error("expected a type")
    raise lx.error("expected a type")


def parse_type_list_parens(lx: Lexer, depth: int = 0) -> list:
    """`(T, U)` (possibly empty); at `(`."""
    lx.expect("(")
    out = []
    if lx.accept(")"):
        return out
    while True:
        out.append(parse_type(lx, depth + 1))
        if lx.accept(")"):
            return out
        lx.expect(",", "',' or ')' in type list")


def parse_results(lx: Lexer) -> list:
    """After `->`: one type or a parenthesized list."""
    if lx.at("("):
        return parse_type_list_parens(lx)
    return [parse_type(lx)]


class FunctionType:
    __slots__ = ("inputs", "results")

    def __init__(self, inputs, results):
        self.inputs = list(inputs)
        self.results = list(results)


def parse_type_section(lx: Lexer):
    """The types after an op's `:`: a FunctionType (`(A, B) -> C`, or chlo's `A, B -> C`) or a
    plain list of types (`T`, `P, T`)."""
    if lx.at("("):
        ins = parse_type_list_parens(lx)
        lx.expect("->", "'->' after the operand types")
        return FunctionType(ins, parse_results(lx))
    types = [parse_type(lx)]
    while lx.at(","):
        # a `,` followed by something that is not a type ends the section (e.g. an attr-dict)
        save = lx.pos
        lx.next()
        k, t, _, _ = lx.peek()
        if not ((k == IDENT and t in ("tensor", "tuple")) or k == BANG):
            lx.seek(save)
            break
        types.append(parse_type(lx))
    if lx.accept("->"):
        return FunctionType(types, parse_results(lx))
    return types
