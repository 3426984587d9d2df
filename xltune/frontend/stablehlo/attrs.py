"""Attribute values: MLIR attribute syntax -> the Python values of docs/ir.md.

Known attribute names get their documented kinds (dimension lists -> tuple[int], padding ->
tuple of pairs, enums -> bare names, dimension numbers -> dataclasses). Anything xltune does not
interpret is kept as RawAttr with its exact source text.
"""
from __future__ import annotations

import re

import numpy as np

from ...ir.attrs import (ConvDimensionNumbers, DotDimensionNumbers, GatherDimensionNumbers, RawAttr,
                         ScatterDimensionNumbers)
from ...ir.printer import BOOL_LIST_ATTRS, DIM_ATTRS, ENUM_ATTRS, ENUM_VALUES, PAD_ATTRS
from . import dense as _dense
from .lexer import (BANG, EOF, FLOAT, HASH, HEXINT, IDENT, INT, STRING, SYMBOL, VALUE, Lexer,
                    unescape)
from .types import ELEMENT_TYPES, parse_type

MAX_DEPTH = 32

# ---- raw text ------------------------------------------------------------------------------
_OPEN = {"(": ")", "[": "]", "{": "}", "<": ">"}
_CLOSE = frozenset(")]}>")


def skip_raw(lx: Lexer, typed: bool = True) -> str:
    """Consume one attribute value of any syntax (brackets balanced); return its exact text.

    The value ends at depth 0 before `,` `:` or a closing bracket; in attr-dicts (`typed`) a
    `: type` suffix belongs to the value."""
    start = lx.peek()[2]
    stack = []
    last_end = start
    while True:
        kind, text, s, e = lx.peek()
        if kind == EOF:
            raise lx.error("unexpected end of input in attribute" if stack else "expected an attribute value")
        if not stack and text in _STOP:
            break
        if text in _OPEN:
            stack.append(_OPEN[text])
            if len(stack) > 256:
                raise lx.error("attribute nested too deeply")
        elif text in _CLOSE:
            if text != stack[-1]:
                raise lx.error(f"expected '{stack[-1]}'")
            stack.pop()
        lx.next()
        last_end = e
    if last_end == start:
        raise lx.error("expected an attribute value")
    if typed and lx.at(":"):
        lx.next()
        _skip_type_after_colon(lx)
        last_end = lx.pos
    return clean_text(lx, start, last_end)


def clean_text(lx: Lexer, start: int, end: int) -> str:
    """The source text from start to end, re-spelled from its tokens when it holds comments or
    locations (which must not be printed back verbatim)."""
    text = lx.text[start:end]
    if "//" not in text and "loc(" not in text:
        return text
    save = lx.pos
    lx.seek(start)
    toks = []
    while lx.peek()[2] < end:
        toks.append(lx.next()[1])
    lx.seek(save)
    out = ""
    for t in toks:
        if out and not (out[-1] in "([{<" or t in ")]}>,:" or t == "<"):
            out += " "
        out += t
    return out


_STOP = frozenset((",", ":", ")", "]", "}", ">"))


# ---- scalars and lists ---------------------------------------------------------------------
_INT_MIN, _INT_LIMIT = -(1 << 63), 1 << 64


def _checked(lx: Lexer, v: int, offset: int, text: str) -> int:
    if not _INT_MIN <= v < _INT_LIMIT:
        raise lx.error("integer out of the 64-bit range", offset, text)
    return v


def _int(lx: Lexer) -> int:
    kind, text, start, _ = lx.peek()
    if kind == INT:
        lx.next()
        return _checked(lx, int(text), start, text)
    if kind == HEXINT:
        lx.next()
        return _checked(lx, int(text, 16), start, text)
    raise lx.error("expected an integer")


def parse_int_list(lx: Lexer) -> tuple[int, ...]:
    """`[1, 2, 3]` (possibly empty)."""
    lx.expect("[", "'['")
    out = []
    if lx.accept("]"):
        return ()
    while True:
        out.append(_int(lx))
        if lx.accept("]"):
            return tuple(out)
        lx.expect(",", "',' or ']'")


def parse_bool_or_int_list(lx: Lexer) -> tuple[bool, ...]:
    lx.expect("[", "'['")
    out = []
    if lx.accept("]"):
        return ()
    while True:
        k, t, _, _ = lx.peek()
        if t in ("true", "false"):
            lx.next()
            out.append(t == "true")
        else:
            out.append(_int(lx) != 0)
        if lx.accept("]"):
            return tuple(out)
        lx.expect(",", "',' or ']'")


def parse_pad_list(lx: Lexer) -> tuple[tuple[int, int], ...]:
    """`[[1, 1], [0, 0]]`."""
    lx.expect("[", "'['")
    out = []
    if lx.accept("]"):
        return ()
    while True:
        off = lx.peek()[2]
        pair = parse_int_list(lx)
        if len(pair) != 2:
            raise lx.error(f"expected a [low, high] pair, got {len(pair)} values", off, "[")
        out.append(pair)
        if lx.accept("]"):
            return tuple(out)
        lx.expect(",", "',' or ']'")


def parse_enum_keyword(lx: Lexer, kind: str) -> str:
    k, text, start, _ = lx.peek()
    if k != IDENT or text not in ENUM_VALUES[kind]:
        raise lx.error(f"expected a {kind} value ({', '.join(ENUM_VALUES[kind])})")
    lx.next()
    return text


def _skip_scalar_type(lx: Lexer):
    """After a scalar attribute: an optional `: i64` / `: f32` / `: tensor<..>`."""
    if lx.at(":"):
        lx.next()
        _skip_type_after_colon(lx)


def _skip_type_after_colon(lx: Lexer):
    kind, text, start, _ = lx.peek()
    if kind == IDENT and (text in ELEMENT_TYPES or text in ("index", "none")
                          or re.fullmatch(r"[su]?i[0-9]+|f[0-9]+|bf16", text)):
        lx.next()
        return
    parse_type(lx)


# ---- structured attributes ---------------------------------------------------------------
_GATHER_FIELDS = {f: "list" for f in ("offset_dims", "collapsed_slice_dims", "operand_batching_dims",
                                      "start_indices_batching_dims", "start_index_map")}
_GATHER_FIELDS["index_vector_dim"] = "int"
_SCATTER_FIELDS = {f: "list" for f in ("update_window_dims", "inserted_window_dims", "input_batching_dims",
                                       "scatter_indices_batching_dims", "scatter_dims_to_operand_dims")}
_SCATTER_FIELDS["index_vector_dim"] = "int"
_DOT_FIELDS = {f: "list" for f in ("lhs_batching_dimensions", "rhs_batching_dimensions",
                                   "lhs_contracting_dimensions", "rhs_contracting_dimensions")}
_CONV_RAW_FIELDS = {
    "input_batch_dimension": "int", "input_feature_dimension": "int", "input_spatial_dimensions": "list",
    "kernel_input_feature_dimension": "int", "kernel_output_feature_dimension": "int",
    "kernel_spatial_dimensions": "list", "output_batch_dimension": "int",
    "output_feature_dimension": "int", "output_spatial_dimensions": "list",
}


def _parse_struct(lx: Lexer, fields: dict, what: str) -> dict:
    """`field = value, ...` up to and including `>`."""
    out = {}
    if lx.accept(">"):
        return out
    while True:
        k, name, off, _ = lx.peek()
        if k != IDENT or name not in fields:
            raise lx.error(f"expected one of: {', '.join(fields)} in {what}")
        if name in out:
            raise lx.error(f"duplicated '{name}' in {what}")
        lx.next()
        lx.expect("=", "'='")
        out[name] = parse_int_list(lx) if fields[name] == "list" else _int(lx)
        if lx.accept(">"):
            return out
        lx.expect(",", f"',' or '>' in {what}")


def parse_conv_dims(lx: Lexer) -> ConvDimensionNumbers:
    """`[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]`."""

    def one(allowed: str):
        off = lx.peek()[2]
        lx.expect("[", "'['")
        letters: dict[str, int] = {}
        spatial: dict[int, int] = {}
        idx = 0
        while True:
            k, t, o, _ = lx.peek()
            if k == INT:
                lx.next()
                s = int(t)
                if s < 0:
                    raise lx.error(f"unexpected dimension {s}", o, t)
                if s in spatial:
                    raise lx.error(f"duplicate entries for spatial dimension {s}", o, t)
                spatial[s] = idx
            elif k == IDENT and len(t) == 1 and t in allowed:
                if t in letters:
                    raise lx.error(f"duplicate dimension '{t}'", o, t)
                lx.next()
                letters[t] = idx
            else:
                raise lx.error(f"expected a spatial dimension number or one of {', '.join(allowed)}")
            idx += 1
            if lx.accept("]"):
                break
            lx.expect(",", "',' or ']'")
        missing = [c for c in allowed if c not in letters]
        if missing:
            raise lx.error(f"expected dimensions {', '.join(missing)} not specified", off, "[")
        if spatial and sorted(spatial) != list(range(len(spatial))):
            raise lx.error("spatial dimensions must be numbered 0..n-1", off, "[")
        return letters, tuple(spatial[i] for i in range(len(spatial)))

    inl, ins = one("bf")
    k, t, _, _ = lx.peek()
    if t != "x":
        raise lx.error("expected 'x' between input and kernel dimensions")
    lx.next()
    kl, ks = one("io")
    lx.expect("->", "'->'")
    outl, outs = one("bf")
    return ConvDimensionNumbers(inl["b"], inl["f"], ins, kl["i"], kl["o"], ks, outl["b"], outl["f"], outs)


def parse_hash_attr(lx: Lexer, name: str | None, depth: int, typed: bool = True):
    """At a `#...` token."""
    kind, text, start, end = lx.peek()
    if text == "#stablehlo" and lx.text.startswith("<", end):
        # enum: #stablehlo<comparison_direction LT>
        lx.next()
        lx.expect("<")
        k, ekind, _, _ = lx.peek()
        if k == IDENT and name is not None and ENUM_ATTRS.get(name) == ekind:
            lx.next()
            val = parse_enum_keyword(lx, ekind)
            lx.expect(">", "'>'")
            return val
        lx.seek(start)
        return RawAttr(skip_raw(lx, typed))
    if text in ("#stablehlo.gather", "#stablehlo.scatter", "#stablehlo.dot", "#stablehlo.conv") and \
            lx.text.startswith("<", end):
        lx.next()
        lx.expect("<")
        if text == "#stablehlo.gather":
            return GatherDimensionNumbers(**_parse_struct(lx, _GATHER_FIELDS, "#stablehlo.gather"))
        if text == "#stablehlo.scatter":
            return ScatterDimensionNumbers(**_parse_struct(lx, _SCATTER_FIELDS, "#stablehlo.scatter"))
        if text == "#stablehlo.dot":
            return DotDimensionNumbers(**_parse_struct(lx, _DOT_FIELDS, "#stablehlo.dot"))
        if lx.accept("raw"):
            off = lx.peek()[2]
            f = _parse_struct(lx, _CONV_RAW_FIELDS, "#stablehlo.conv")
            missing = [k for k in _CONV_RAW_FIELDS if k not in f and _CONV_RAW_FIELDS[k] == "int"]
            if missing:
                raise lx.error(f"missing {', '.join(missing)} in #stablehlo.conv", off, "raw")
            for k in _CONV_RAW_FIELDS:
                f.setdefault(k, ())
            return ConvDimensionNumbers(**f)
        dn = parse_conv_dims(lx)
        lx.expect(">", "'>'")
        return dn
    return RawAttr(skip_raw(lx, typed))


def parse_array_attr(lx: Lexer):
    """`array<i64: 1, 2>`, `array<i1: true>`, `array<f32: 1.0>` -> tuple."""
    lx.next()
    lx.expect("<", "'<' after array")
    k, et, off, _ = lx.peek()
    if k != IDENT:
        raise lx.error("expected an element type in array<...>")
    lx.next()
    out = []
    if lx.accept(":"):
        while True:
            kk, t, o, _ = lx.peek()
            if et == "i1":
                if t not in ("true", "false"):
                    raise lx.error("expected true or false")
                lx.next()
                out.append(t == "true")
            elif re.fullmatch(r"[su]?i[0-9]+", et):
                out.append(_int(lx))
            elif et in ("f16", "f32", "f64", "bf16"):
                if kk not in (INT, FLOAT):
                    raise lx.error("expected a number")
                lx.next()
                out.append(float(t))
            else:
                raise lx.error(f"unsupported array element type '{et}'", off, et)
            if not lx.accept(","):
                break
    lx.expect(">", "'>' closing array<")
    return tuple(out)


def parse_attr_value(lx: Lexer, name: str | None = None, depth: int = 0, typed: bool = True):
    """One attribute value. `typed`: a scalar may be followed by `: type` (attr-dicts)."""
    if depth > MAX_DEPTH:
        raise lx.error("attribute nested too deeply")
    kind, text, start, end = lx.peek()
    if kind == STRING:
        lx.next()
        if typed:
            _skip_scalar_type(lx)
        return unescape(text[1:-1])
    if kind == INT or kind == HEXINT:
        lx.next()
        v = _checked(lx, int(text, 16) if kind == HEXINT else int(text), start, text)
        if typed and lx.at(":"):
            lx.next()
            k2, t2, _, _ = lx.peek()
            if k2 == IDENT and t2 in ("f16", "f32", "f64", "bf16"):
                lx.next()
                if kind == HEXINT:  # a bit pattern (how MLIR writes NaN and infinities)
                    return _float_from_bits(lx, v, t2, start, text)
                return float(v)
            if k2 == IDENT and t2 == "i1":
                lx.next()
                return bool(v)
            _skip_type_after_colon(lx)
        return v
    if kind == FLOAT:
        lx.next()
        if typed:
            _skip_scalar_type(lx)
        return float(text)
    if kind == IDENT:
        if text in ("true", "false"):
            lx.next()
            if typed and lx.at(":"):
                _skip_scalar_type(lx)
            return text == "true"
        if text == "unit":
            lx.next()
            return True
        if text == "dense" and lx.text.startswith("<", end):
            return parse_dense_attr(lx, name)
        if text == "array" and lx.text.startswith("<", end):
            return parse_array_attr(lx)
        if text in ("inf", "nan"):
            lx.next()
            if typed:
                _skip_scalar_type(lx)
            return float(text)
        return RawAttr(skip_raw(lx, typed))
    if kind == HASH:
        return parse_hash_attr(lx, name, depth, typed)
    if text == "[":
        return parse_list_attr(lx, name, depth)
    if text == "{":
        return RawAttr(skip_raw(lx, typed))
    if kind in (SYMBOL, BANG):
        return RawAttr(skip_raw(lx, typed))
    if kind == VALUE:
        raise lx.error("expected an attribute value, got an SSA value")
    if kind == EOF:
        raise lx.error("expected an attribute value")
    if text in ("-", "+") or text in (",", ")", "]", "}", ">", ":", "=", "->"):
        raise lx.error("expected an attribute value")
    return RawAttr(skip_raw(lx, typed))


_FLOAT_BITS = {"f16": (np.uint16, np.float16), "bf16": (np.uint16, None), "f32": (np.uint32, np.float32),
               "f64": (np.uint64, np.float64)}


def _float_from_bits(lx: Lexer, bits: int, tname: str, offset: int, text: str) -> float:
    import ml_dtypes
    ut, ft = _FLOAT_BITS[tname]
    ft = ft or ml_dtypes.bfloat16
    if bits < 0 or bits >= 1 << (8 * np.dtype(ut).itemsize):
        raise lx.error(f"bit pattern {text} is too wide for {tname}", offset, text)
    return float(np.array([bits], dtype=ut).view(ft)[0])


def _plain(v) -> bool:
    """Values a list attribute may hold and stay a tuple (else the list is kept raw)."""
    if isinstance(v, tuple):
        return all(_plain(x) for x in v)
    return isinstance(v, (bool, int, float, str))


def parse_list_attr(lx: Lexer, name: str | None, depth: int):
    """`[a, b, ...]`: a tuple when every element is a plain value (or a tuple of them), else
    RawAttr of the text."""
    start = lx.peek()[2]
    lx.next()
    items = []
    raw = False
    if not lx.accept("]"):
        while True:
            v = parse_attr_value(lx, name, depth + 1)
            if not _plain(v):
                raw = True
            items.append(v)
            if lx.accept("]"):
                break
            lx.expect(",", "',' or ']'")
    if raw:
        return RawAttr(lx.text[start:lx.pos])
    return tuple(items)


_ANY_TENSOR = re.compile(r"\s*:\s*tensor<(?:[0-9?]+x)*([A-Za-z][A-Za-z0-9]*|complex<[A-Za-z0-9]+>)>")


def parse_dense_attr(lx: Lexer, name: str | None):
    """`dense<...> : tensor<...>` -> ndarray (or RawAttr for element types xltune lacks, e.g. index)."""
    start = lx.peek()[2]
    kind, payload, off = _dense.parse_dense_body(lx)
    m = _ANY_TENSOR.match(lx.text, lx.pos)
    if m is not None and m.group(1) not in ELEMENT_TYPES and not m.group(1).startswith("complex"):
        lx.seek(m.end())
        return RawAttr(lx.text[start:m.end()])
    lx.expect(":", "':' and the type of the dense literal")
    t = parse_type(lx)
    return _dense.finish_dense(lx, kind, payload, off, t)


def convert_named(lx: Lexer, name: str, value, offset: int):
    """Give known attribute names their documented Python kinds."""
    if name in DIM_ATTRS:
        if isinstance(value, np.ndarray):
            if value.ndim > 1 or value.dtype.kind not in "iub":
                raise lx.error(f"'{name}' must be a 1-D integer list", offset, name)
            return tuple(int(x) for x in value.reshape(-1))
        return value
    if name in PAD_ATTRS:
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "iu" or not (value.ndim == 2 and value.shape[1] == 2 or value.size == 0):
                raise lx.error(f"'{name}' must be an N x 2 integer array", offset, name)
            return tuple((int(a), int(b)) for a, b in value.reshape(-1, 2))
        return value
    if name in BOOL_LIST_ATTRS:
        if isinstance(value, np.ndarray):
            return tuple(bool(x) for x in value.reshape(-1))
        return value
    return value


# ---- attribute dictionaries ------------------------------------------------------------------
def parse_attr_dict(lx: Lexer, into: dict, close: str = "}"):
    """After `{` (or `<{`): `name = value, ...` up to and including `close`."""
    if lx.accept(close):
        return
    while True:
        kind, name, off, _ = lx.peek()
        if kind == STRING:
            name = unescape(name[1:-1])
        elif kind != IDENT:
            raise lx.error("expected an attribute name")
        lx.next()
        if lx.accept("="):
            value = parse_attr_value(lx, name)
        else:
            value = True  # unit attribute
        if name in into:
            raise lx.error(f"duplicate attribute '{name}'", off, name)
        into[name] = convert_named(lx, name, value, off)
        if lx.accept(close):
            return
        lx.expect(",", f"',' or '{close}' in attribute dictionary")


def skip_attr_dict_text(lx: Lexer) -> str:
    """At `{`: consume a whole attribute dictionary, returning its text (validated)."""
    start = lx.peek()[2]
    lx.expect("{")
    parse_attr_dict(lx, {})
    return clean_text(lx, start, lx.pos)
