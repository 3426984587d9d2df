"""`dense<...> : tensor<...>` element data -> numpy arrays.

Forms: a splat scalar (`dense<1.0>`), nested lists (`dense<[[1, 2], [3, 4]]>`), complex pairs
(`(1.0, -2.0)`), booleans, special floats (`inf`, `nan`, hex bit patterns such as
`0xFF800000`), hex blobs (`dense<"0x...">`: little-endian element bytes; i1 and the sub-byte
types take one byte per element; complex is (real, imag) pairs; one element for a larger shape
is a splat) and the empty literal `dense<>`.
"""
from __future__ import annotations

import math
import re
import sys

import numpy as np

from ...ir import dtypes
from ...ir.types import TensorType
from .lexer import Lexer

_LIT_TOKEN = re.compile(r"\s*(?://[^\n]*\s*)*(\[|\]|\(|\)|,|[^\s\[\](),/]+)")
_INT = re.compile(r"[-+]?[0-9]+$")
_HEX = re.compile(r"[-+]?0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*(?:[eE][-+]?[0-9]+)?|inf|nan)$")
_SUBBYTE_INT = {"i2": (2, True), "i4": (4, True), "ui2": (2, False), "ui4": (4, False)}
_LITTLE = sys.byteorder == "little"
MAX_ELEMENTS = 1 << 40


class DenseError(Exception):
    """Raised with (message, offset, snippet); the caller turns it into a ParseError."""

    def __init__(self, message, offset, snippet=""):
        super().__init__(message)
        self.offset = offset
        self.snippet = snippet


def readonly(a: np.ndarray) -> np.ndarray:
    if a.flags.writeable:
        a.flags.writeable = False
    return a


# ---- raw literal scanning ----------------------------------------------------------------
def scan_literal(text: str, start: int):
    """Scan the body of `dense<` starting at `start` (just after `<`).

    Returns (kind, payload, end) where end is the offset just past the closing `>` and
      kind "hex":    payload = (hex digits, offset)
      kind "empty":  payload = None
      kind "scalar": payload = (token, offset) or ((re, im), offset) for a complex pair
      kind "list":   payload = (shape tuple, [leaf, ...], [offset, ...])
    """
    n = len(text)
    i = start
    while i < n and text[i] in " \t\r\n":
        i += 1
    if i < n and text[i] == '"':
        close = text.find('"', i + 1)
        if close < 0:
            raise DenseError("unterminated string in dense<...>", i, '"')
        body = text[i + 1:close]
        if not body.startswith("0x"):
            raise DenseError("only hex strings (\"0x...\") are supported in dense<...>", i, body[:20])
        j = close + 1
        while j < n and text[j] in " \t\r\n":
            j += 1
        if j >= n or text[j] != ">":
            raise DenseError("expected '>' closing dense<", j, text[j:j + 1])
        return "hex", (body[2:], i + 3), j + 1
    end = text.find(">", i)
    if end < 0:
        raise DenseError("expected '>' closing dense<", i, text[i:i + 10])
    if text[i:end].strip() == "":
        return "empty", None, end + 1
    toks = []
    pos = i
    while True:
        m = _LIT_TOKEN.match(text, pos, end)
        if m is None:
            rest = text[pos:end]
            if rest.strip() and not rest.strip().startswith("//"):
                raise DenseError("unexpected text in dense<...>", pos, rest.strip()[:20])
            break
        toks.append((m.group(1), m.start(1)))
        pos = m.end()
    if not toks:
        return "empty", None, end + 1
    if toks[0][0] != "[":
        leaf, k = _scan_leaf(toks, 0, end)
        if k != len(toks):
            raise DenseError("unexpected text after the dense scalar", toks[k][1], toks[k][0])
        return "scalar", (leaf, toks[0][1]), end + 1
    shape: dict[int, int] = {}
    counts: list[int] = []
    leaves: list = []
    offsets: list[int] = []
    leaf_depth = -1
    k = 0
    nt = len(toks)
    want_elem = True  # an element (or a `]` closing an empty list) may come next
    while k < nt:
        t, off = toks[k]
        if t == "[":
            if not want_elem:
                raise DenseError("expected ',' or ']' in dense literal", off, t)
            counts.append(0)
            if len(counts) > 64:
                raise DenseError("dense literal nested too deeply", off, t)
            k += 1
            continue
        if t == "]":
            if not counts:
                raise DenseError("unbalanced ']' in dense literal", off, t)
            prev = toks[k - 1][0]
            if prev == ",":
                raise DenseError("expected an element before ']'", off, t)
            depth = len(counts)
            c = counts.pop()
            old = shape.get(depth)
            if old is None:
                shape[depth] = c
            elif old != c:
                raise DenseError(f"inconsistent dense literal: a list of {c} elements where "
                                 f"{old} were expected", off, t)
            k += 1
            if counts:
                counts[-1] += 1
                want_elem = False
            else:
                if k != nt:
                    raise DenseError("unexpected text after the dense literal", toks[k][1], toks[k][0])
                break
            continue
        if t == ",":
            if want_elem or not counts:
                raise DenseError("unexpected ',' in dense literal", off, t)
            want_elem = True
            k += 1
            continue
        if not want_elem:
            raise DenseError("expected ',' or ']' in dense literal", off, t)
        if not counts:
            raise DenseError("unexpected text in dense literal", off, t)
        leaf, k = _scan_leaf(toks, k, end)
        depth = len(counts)
        if leaf_depth < 0:
            leaf_depth = depth
        elif depth != leaf_depth:
            raise DenseError("inconsistent nesting in dense literal", off, t)
        leaves.append(leaf)
        offsets.append(off)
        counts[-1] += 1
        want_elem = False
    if counts:
        raise DenseError("unbalanced '[' in dense literal", toks[-1][1], toks[-1][0])
    ndim = max(shape) if shape else 0
    if leaf_depth > 0 and leaf_depth != ndim:
        raise DenseError("inconsistent nesting in dense literal", toks[0][1], "[")
    dims = tuple(shape.get(d, 0) for d in range(1, ndim + 1))
    return "list", (dims, leaves, offsets), end + 1


def _scan_leaf(toks, k, end):
    t, off = toks[k]
    if t == "(":
        try:
            (a, _), (c, coff), (b, _), (r, roff) = toks[k + 1:k + 5]
        except ValueError:
            raise DenseError("unterminated complex pair in dense literal", off, t) from None
        if c != "," or r != ")" or a in "[](),":
            raise DenseError("expected a complex pair '(re, im)'", off, t)
        if b in "[](),":
            raise DenseError("expected a complex pair '(re, im)'", coff, b)
        return (a, b), k + 5
    if t in ")]":
        raise DenseError("expected an element", off, t)
    return t, k + 1


# ---- element conversion ------------------------------------------------------------------
def _int_value(tok: str, dt: dtypes.DType, off: int) -> int:
    if _INT.match(tok):
        v = int(tok)
    elif _HEX.match(tok):
        v = int(tok, 16)
    elif dt.is_pred and tok in ("true", "false"):
        return 1 if tok == "true" else 0
    else:
        raise DenseError(f"expected an integer for element type {dt}", off, tok)
    bits = dt.bits
    if dt.is_pred:
        if v not in (0, 1):
            raise DenseError(f"{v} is not a valid i1 value", off, tok)
        return v
    if dt.is_unsigned:
        if v < 0:
            raise DenseError(f"negative value {v} for unsigned type {dt}", off, tok)
        if v >= 1 << bits:
            raise DenseError(f"integer {v} out of range for {dt}", off, tok)
        return v
    if v < -(1 << (bits - 1)) or v >= 1 << bits:
        raise DenseError(f"integer {v} out of range for {dt}", off, tok)
    if v >= 1 << (bits - 1):  # signless spelling of a negative value (e.g. 255 : i8)
        v -= 1 << bits
    return v


def _uint_for_bits(bits: int):
    return {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[bits]


def _float_values(toks, offs, dt: dtypes.DType) -> np.ndarray:
    """Floats of dtype dt (a real float type) from literal tokens."""
    npd = dt.np_dtype
    storage_bits = npd.itemsize * 8
    if not any(t.startswith(("0x", "-0x", "+0x")) for t in toks):
        vals = []
        for t, off in zip(toks, offs):
            if not _FLOAT.match(t):
                raise DenseError(f"expected a floating-point value for element type {dt}", off, t)
            vals.append(float(t))
        return np.array(vals, dtype=np.float64).astype(npd)
    out = np.empty(len(toks), dtype=npd)
    for i, (t, off) in enumerate(zip(toks, offs)):
        if _HEX.match(t):
            if t[0] in "+-":
                raise DenseError("a hexadecimal float bit pattern cannot have a sign", off, t)
            bits = int(t, 16)
            if bits >= 1 << storage_bits or (dt.bits < storage_bits and bits >= 1 << dt.bits):
                raise DenseError(f"bit pattern {t} is too wide for {dt}", off, t)
            out[i] = np.array([bits], dtype=_uint_for_bits(storage_bits)).view(npd)[0]
        elif _FLOAT.match(t):
            out[i] = np.float64(float(t)).astype(npd)
        else:
            raise DenseError(f"expected a floating-point value for element type {dt}", off, t)
    return out


def _int_array(vals, dt: dtypes.DType) -> np.ndarray:
    if dt.is_pred:
        return np.array(vals, dtype=np.bool_)
    if dt.name in _SUBBYTE_INT:
        return np.array(vals, dtype=np.int8).astype(dt.np_dtype)
    return np.array(vals, dtype=dt.np_dtype)


def convert_leaves(leaves, offsets, dt: dtypes.DType) -> np.ndarray:
    """A flat array of dtype dt from literal leaves (tokens, or (re, im) pairs for complex).
    Decimal values beyond the type's range become infinities, as MLIR rounds them."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _convert_leaves(leaves, offsets, dt)


def _convert_leaves(leaves, offsets, dt: dtypes.DType) -> np.ndarray:
    if dt.is_complex:
        comp = dt.component
        re_toks, im_toks, offs = [], [], []
        for leaf, off in zip(leaves, offsets):
            if not isinstance(leaf, tuple):
                raise DenseError(f"expected a complex pair '(re, im)' for element type {dt}", off, leaf)
            re_toks.append(leaf[0])
            im_toks.append(leaf[1])
            offs.append(off)
        re_a = _float_values(re_toks, offs, comp)
        im_a = _float_values(im_toks, offs, comp)
        out = np.empty(len(leaves), dtype=dt.np_dtype)
        out.real = re_a
        out.imag = im_a
        return out
    for leaf, off in zip(leaves, offsets):
        if isinstance(leaf, tuple):
            raise DenseError(f"complex pair for the non-complex element type {dt}", off, "(")
    if dt.is_float:
        return _float_values(leaves, offsets, dt)
    return _int_array([_int_value(t, dt, off) for t, off in zip(leaves, offsets)], dt)


def from_hex(hexdigits: str, offset: int, t: TensorType) -> np.ndarray:
    dt = t.dtype
    try:
        data = bytes.fromhex(hexdigits)
    except ValueError:
        raise DenseError("malformed hex data in dense<\"0x...\">", offset, hexdigits[:20]) from None
    npd = dt.np_dtype
    item = npd.itemsize  # i1 and sub-byte types: one byte per element
    size = t.size
    if len(data) % item:
        raise DenseError(f"hex data of {len(data)} bytes is not a whole number of {dt} elements",
                         offset, hexdigits[:20])
    n = len(data) // item
    if n != size and n != 1:
        raise DenseError(f"hex data has {n} elements but {t} has {size}", offset, hexdigits[:20])
    if dt.is_pred:
        flat = np.frombuffer(data, dtype=np.uint8) != 0
    elif dt.name in _SUBBYTE_INT:
        bits, signed = _SUBBYTE_INT[dt.name]
        raw = np.frombuffer(data, dtype=np.uint8) & ((1 << bits) - 1)
        if signed:
            raw = raw.astype(np.int16)
            raw = np.where(raw >= 1 << (bits - 1), raw - (1 << bits), raw)
        flat = raw.astype(np.int8).astype(npd)
    else:
        flat = np.frombuffer(data, dtype=npd)
        if not _LITTLE:
            flat = flat.byteswap()
    if n == 1 and size != 1:
        return readonly(np.broadcast_to(flat.reshape(()), t.shape))
    return readonly(flat.reshape(t.shape))


def build(kind, payload, t: TensorType) -> np.ndarray:
    """The ndarray for a scanned literal of tensor type t."""
    dt = t.dtype
    if t.size > MAX_ELEMENTS:
        raise DenseError(f"{t} is too large", 0)
    if kind == "hex":
        return from_hex(payload[0], payload[1], t)
    if kind == "empty":
        if t.size != 0:
            raise DenseError(f"empty dense literal for {t}, which has {t.size} elements", 0)
        return readonly(np.zeros(t.shape, dtype=dt.np_dtype))
    if kind == "scalar":
        leaf, off = payload
        flat = convert_leaves([leaf], [off], dt)
        return readonly(np.broadcast_to(flat.reshape(()), t.shape))
    dims, leaves, offsets = payload
    if dims != t.shape:
        n = math.prod(dims)
        raise DenseError(f"dense literal has shape {list(dims)} ({n} elements) but the type is {t} "
                         f"({t.size} elements)", offsets[0] if offsets else 0)
    if not leaves:
        return readonly(np.zeros(t.shape, dtype=dt.np_dtype))
    return readonly(convert_leaves(leaves, offsets, dt).reshape(t.shape))


def parse_dense_body(lx: Lexer):
    """At `dense` (the identifier): scan `dense<...>`; returns (kind, payload, start offset).
    The caller parses the `: type` that follows and calls `build`."""
    kind_, text_, start, end = lx.next()
    if not lx.text.startswith("<", end):
        lx.seek(end)
        raise lx.error("expected '<' after dense")
    try:
        kind, payload, stop = scan_literal(lx.text, end + 1)
    except DenseError as e:
        raise lx.error(str(e), e.offset, e.snippet or None) from None
    lx.seek(stop)
    return kind, payload, start


def finish_dense(lx: Lexer, kind, payload, start: int, t) -> np.ndarray:
    if not isinstance(t, TensorType):
        raise lx.error(f"dense<...> needs a tensor type, got {t}", start, "dense")
    try:
        return build(kind, payload, t)
    except DenseError as e:
        off = e.offset or start
        raise lx.error(str(e), off, e.snippet or None) from None
    except (ValueError, OverflowError, TypeError, MemoryError) as e:
        raise lx.error(f"bad dense literal for {t}: {e}", start, "dense") from None
