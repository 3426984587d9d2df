"""Module -> StableHLO text that `xltune.parse` reads back to an equal Module, and an
XLA-HLO-style display form.

    print_module(m)       `module @name { func.func ... }` (what str(module) gives)
    print_computation(c)  one function
    print_hlo(m)          `%add.3 = f32[4,8] add(%a, %b)` lines, fused computations first

Common ops use their pretty StableHLO syntax; the rest use the generic form
`"stablehlo.op"(%a) <{attrs}> ({regions}) : (types) -> types`. Several results print as
`%x:2 = ...` and are read as `%x#1` (the get_tuple_element instructions that read a multi
instruction are not printed themselves). Non-splat constants larger than a few elements print
as hex blobs, so every bit survives the round trip.
"""
from __future__ import annotations

import math
import re
import sys

import numpy as np

from . import dtypes
from .attrs import (ConvDimensionNumbers, DotDimensionNumbers, GatherDimensionNumbers, RawAttr,
                    ScatterDimensionNumbers)
from .module import Computation, Instruction, Module
from .types import TensorType, TupleType


# ---- text conventions shared with the parser (xltune.frontend.stablehlo) ---------------------------
# Attribute name -> the StableHLO enum it holds (values become bare names such as "LT").
ENUM_ATTRS = {
    "comparison_direction": "comparison_direction",
    "compare_type": "comparison_type",
    "precision_config": "precision",
    "fft_type": "fft_type",
    "rng_algorithm": "rng_algorithm",
    "rng_distribution": "rng_distribution",
    "transpose_a": "transpose",
}
ENUM_VALUES = {
    "comparison_direction": ("EQ", "NE", "GE", "GT", "LE", "LT"),
    "comparison_type": ("NOTYPE", "FLOAT", "TOTALORDER", "SIGNED", "UNSIGNED"),
    "precision": ("DEFAULT", "HIGH", "HIGHEST"),
    "fft_type": ("FFT", "IFFT", "RFFT", "IRFFT"),
    "rng_algorithm": ("DEFAULT", "THREE_FRY", "PHILOX"),
    "rng_distribution": ("UNIFORM", "NORMAL"),
    "transpose": ("TRANSPOSE_INVALID", "NO_TRANSPOSE", "TRANSPOSE", "ADJOINT"),
}

# Attributes that hold dimension lists (tuple[int, ...]) whatever their spelling.
DIM_ATTRS = frozenset((
    "broadcast_dimensions", "dimensions", "permutation", "start_indices", "limit_indices", "strides",
    "slice_sizes", "edge_padding_low", "edge_padding_high", "interior_padding", "window_dimensions",
    "window_strides", "base_dilations", "window_dilations", "lhs_dilation", "rhs_dilation",
    "fft_length", "broadcast_sizes", "known_expanding_dimensions", "known_nonexpanding_dimensions",
))
PAD_ATTRS = frozenset(("padding",))
BOOL_LIST_ATTRS = frozenset(("window_reversal",))

# Integer attributes StableHLO types as i32 (everything else prints as i64).
I32_ATTRS = frozenset(("exponent_bits", "mantissa_bits", "api_version", "version"))
F32_ATTRS = frozenset(("epsilon",))


def escape(s: str) -> str:
    """An MLIR string literal (with quotes) for s."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# ---- dense element data --------------------------------------------------------------------------
_SUBBYTE_INT = ("i2", "i4", "ui2", "ui4")
_LITTLE = sys.byteorder == "little"


def _uint_for_bits(bits: int):
    return {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}[bits]


_SHORTEST = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _fmt_float(x, dt: dtypes.DType) -> str:
    """A float literal that reads back (through float64, as the parser reads it) to the same
    bits of dtype dt; hex bit patterns for NaN, infinities and anything else."""
    npd = dt.np_dtype
    want = np.array([x], dtype=npd)
    f = float(want[0])
    if math.isnan(f) or math.isinf(f):
        return _hex_bits(x, dt)
    if f == 0.0:
        return "-0.0" if math.copysign(1.0, f) < 0 else "0.0"
    cands = []
    if npd in _SHORTEST:
        cands.append(np.format_float_scientific(want[0], unique=True, trim="0"))
    cands.append(repr(f))
    for s in cands:
        if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
            s += ".0"
        try:
            back = np.array([float(s)], dtype=np.float64).astype(npd)
        except (ValueError, OverflowError):
            continue
        if back.tobytes() == want.tobytes():
            return s
    return _hex_bits(x, dt)


def _hex_bits(x, dt: dtypes.DType) -> str:
    npd = dt.np_dtype
    bits = int(np.array([x], dtype=npd).view(_uint_for_bits(npd.itemsize * 8))[0])
    width = max(1, (dt.bits + 3) // 4) if dt.bits < npd.itemsize * 8 else npd.itemsize * 2
    return f"0x{bits:0{width}X}"


def format_element(x, dt: dtypes.DType) -> str:
    if dt.is_pred:
        return "true" if bool(x) else "false"
    if dt.is_int:
        return str(int(x))
    if dt.is_complex:
        comp = dt.component
        return f"({_fmt_float(np.real(x), comp)}, {_fmt_float(np.imag(x), comp)})"
    return _fmt_float(x, dt)


def is_splat(a: np.ndarray) -> bool:
    if a.size <= 1:
        return a.size == 1
    if 0 in a.strides and a.ndim and all(s == 0 for s in a.strides):
        return True
    flat = a.reshape(-1)
    b = flat[:1].tobytes() * flat.size
    return b == np.ascontiguousarray(flat).tobytes()


def format_dense(a: np.ndarray, dt: dtypes.DType, hex_threshold: int = 16) -> str:
    """`dense<...>` text (without the type) that parses back to the same bits."""
    if a.size == 0:
        return "dense<>"
    if is_splat(a):
        return f"dense<{format_element(a.reshape(-1)[0], dt)}>"
    if a.size > hex_threshold and (dt.is_pred or (dt.name not in _SUBBYTE_INT and dt.bits >= 8)):
        if dt.is_pred:
            data = np.ascontiguousarray(a, dtype=np.uint8).tobytes()
        else:
            c = np.ascontiguousarray(a)
            if not _LITTLE:
                c = c.byteswap()
            data = c.tobytes()
        return f'dense<"0x{data.hex().upper()}">'

    def rec(x, depth):
        if depth == a.ndim:
            return format_element(x, dt)
        return "[" + ", ".join(rec(y, depth + 1) for y in x) + "]"

    return f"dense<{rec(a, 0)}>"




_BARE_SYMBOL = re.compile(r"[A-Za-z_$.\-][A-Za-z0-9_$.\-]*$")
_NAME_OK = re.compile(r"(?:[0-9]+|[A-Za-z_$.\-][A-Za-z0-9_$.\-]*)$")


def _opdef(inst: Instruction):
    try:
        return inst.opdef
    except Exception:
        return None


def _mlir_name(inst: Instruction) -> str:
    d = _opdef(inst)
    if d is not None:
        return d.mlir_name
    return f"xltune.{inst.opcode}"


def symbol(name: str) -> str:
    return "@" + name if _BARE_SYMBOL.match(name) else "@" + escape(name)


def _sanitize(name) -> str:
    if name is None or name == "":
        return "v"
    s = str(name)
    if _NAME_OK.match(s):
        return s
    s = re.sub(r"[^A-Za-z0-9_$.\-]", "_", s)
    if s[0].isdigit() and not s.isdigit():
        s = "v" + s
    return s


def _is_multi_read(inst: Instruction) -> bool:
    """A get_tuple_element reading a multi instruction prints as `%x#i`, not as an op."""
    return inst.opcode == "get_tuple_element" and len(inst.operands) == 1 and inst.operands[0].multi


# ---- types -------------------------------------------------------------------------------------
def _t(t) -> str:
    return str(t)


def _results_text(types) -> str:
    if len(types) == 1 and not isinstance(types[0], TupleType):
        return _t(types[0])
    return "(" + ", ".join(_t(t) for t in types) + ")"


def _fn_type(ins, outs) -> str:
    return "(" + ", ".join(_t(t) for t in ins) + ") -> " + _results_text(list(outs))


# ---- attributes ----------------------------------------------------------------------------------
def _int_list(xs) -> str:
    return "[" + ", ".join(str(int(x)) for x in xs) + "]"


def _float_attr(name: str, v: float) -> str:
    from .dtypes import F32, F64
    dt = F32 if name in F32_ATTRS else F64
    return f"{_fmt_float(v, dt)} : {dt.name}"


def _struct(tag: str, fields) -> str:
    parts = []
    for key, val in fields:
        if isinstance(val, tuple):
            if val:
                parts.append(f"{key} = {_int_list(val)}")
        elif val:
            parts.append(f"{key} = {int(val)}")
    return f"#stablehlo.{tag}<" + ", ".join(parts) + ">"


def conv_dims_text(dn: ConvDimensionNumbers) -> str | None:
    """`[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]`, or None when the numbers are inconsistent."""

    def one(n0, c0, a, c1, spatial):
        rank = 2 + len(spatial)
        slots = [None] * rank
        for pos, label in [(a, c0[0]), (c1, c0[1])] + [(p, str(i)) for i, p in enumerate(spatial)]:
            if not isinstance(pos, int) or not 0 <= pos < rank or slots[pos] is not None:
                return None
            slots[pos] = label
        return "[" + ", ".join(slots) + "]"

    i = one(None, "bf", dn.input_batch_dimension, dn.input_feature_dimension, dn.input_spatial_dimensions)
    k = one(None, "io", dn.kernel_input_feature_dimension, dn.kernel_output_feature_dimension,
            dn.kernel_spatial_dimensions)
    o = one(None, "bf", dn.output_batch_dimension, dn.output_feature_dimension, dn.output_spatial_dimensions)
    if i is None or k is None or o is None:
        return None
    return f"{i}x{k}->{o}"


def _conv_attr(dn: ConvDimensionNumbers) -> str:
    text = conv_dims_text(dn)
    if text is not None:
        return f"#stablehlo.conv<{text}>"
    fields = ", ".join(f"{f} = {_int_list(v) if isinstance(v, tuple) else int(v)}"
                       for f, v in vars(dn).items())
    return f"#stablehlo.conv<raw {fields}>"


def attr_text(name: str, v) -> str:
    """The MLIR text of attribute `name` with Python value v (see docs/ir.md)."""
    if isinstance(v, RawAttr):
        return v.text
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return f"{int(v)} : {'i32' if name in I32_ATTRS else 'i64'}"
    if isinstance(v, (float, np.floating)):
        return _float_attr(name, float(v))
    if isinstance(v, str):
        kind = ENUM_ATTRS.get(name)
        return f"#stablehlo<{kind} {v}>" if kind else escape(v)
    if isinstance(v, np.ndarray):
        from .dtypes import from_numpy
        dt = from_numpy(v.dtype)
        return f"{format_dense(v, dt)} : {TensorType(v.shape, dt)}"
    if isinstance(v, GatherDimensionNumbers):
        return _struct("gather", vars(v).items())
    if isinstance(v, ScatterDimensionNumbers):
        return _struct("scatter", vars(v).items())
    if isinstance(v, DotDimensionNumbers):
        return _struct("dot", vars(v).items())
    if isinstance(v, ConvDimensionNumbers):
        return _conv_attr(v)
    if isinstance(v, (tuple, list)):
        kind = ENUM_ATTRS.get(name)
        if kind and all(isinstance(x, str) for x in v):
            return "[" + ", ".join(f"#stablehlo<{kind} {x}>" for x in v) + "]"
        if name in PAD_ATTRS and v and all(isinstance(x, (tuple, list)) and len(x) == 2 for x in v):
            rows = ", ".join(f"[{int(a)}, {int(b)}]" for a, b in v)
            return f"dense<[{rows}]> : tensor<{len(v)}x2xi64>"
        if all(isinstance(x, (bool, np.bool_)) for x in v) and v:
            return "array<i1: " + ", ".join("true" if x else "false" for x in v) + ">"
        if all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) for x in v):
            return "array<i64" + (": " + ", ".join(str(int(x)) for x in v) if v else "") + ">"
        return "[" + ", ".join(attr_text(name, x) for x in v) + "]"
    if v is None:
        return "unit"
    return escape(str(v))


def _attr_dict(attrs: dict, keys) -> str:
    return ", ".join(f"{_attr_key(k)} = {attr_text(k, attrs[k])}" for k in keys)


def _attr_key(k: str) -> str:
    return k if re.match(r"[A-Za-z_][A-Za-z0-9_$.]*$", k) else escape(k)


# ---- the printer ------------------------------------------------------------------------------
class _Printer:
    def __init__(self):
        self.lines: list[str] = []
        self.names: dict[Instruction, str] = {}
        self.used: set[str] = set()
        _register_elementwise()

    # names
    def define(self, inst: Instruction, hint=None) -> str:
        base = _sanitize(hint if hint is not None else inst.name)
        name = base
        k = 0
        while name in self.used:
            name = _sanitize(f"{base}_{k}")
            k += 1
        self.used.add(name)
        self.names[inst] = name
        return name

    def ref(self, inst: Instruction) -> str:
        if _is_multi_read(inst):
            prod = inst.operands[0]
            return f"%{self._name(prod)}#{inst.attrs.get('index', 0)}"
        return f"%{self._name(inst)}"

    def _name(self, inst):
        n = self.names.get(inst)
        if n is None:  # a value from outside what is being printed (or not yet defined)
            n = self.define(inst)
        return n

    def refs(self, insts) -> str:
        return ", ".join(self.ref(o) for o in insts)

    # functions
    def function(self, comp: Computation, indent: str):
        params = []
        for i, p in enumerate(comp.params):
            name = self.define(p)
            attr = comp.arg_attrs[i] if i < len(comp.arg_attrs) else None
            params.append(f"%{name}: {_t(p.type)}" + (f" {attr}" if attr else ""))
        outs = comp.outputs
        res_attrs = list(comp.result_attrs) + [None] * len(outs)
        if outs:
            if len(outs) == 1 and not res_attrs[0] and not isinstance(outs[0].type, TupleType):
                res = f" -> {_t(outs[0].type)}"
            else:
                res = " -> (" + ", ".join(_t(o.type) + (f" {res_attrs[i]}" if res_attrs[i] else "")
                                          for i, o in enumerate(outs)) + ")"
        else:
            res = ""
        vis = "private" if comp.visibility == "private" else "public"
        self.lines.append(f"{indent}func.func {vis} {symbol(comp.name)}({', '.join(params)}){res} {{")
        self.body(comp, indent + "  ", "return")
        self.lines.append(f"{indent}}}")

    def body(self, comp: Computation, indent: str, ret: str):
        for inst in comp.instructions:
            if inst.opcode == "parameter" or _is_multi_read(inst):
                continue
            self.op(inst, indent)
        outs = comp.outputs
        if outs:
            self.lines.append(f"{indent}{ret} {self.refs(outs)} : {', '.join(_t(o.type) for o in outs)}")
        else:
            self.lines.append(f"{indent}{ret}")

    def region(self, comp: Computation, indent: str, header: bool = True) -> None:
        """Lines of `{ ^bb0(...): ... }` (the caller has written the opening text)."""
        if header and comp.params:
            args = ", ".join(f"%{self.define(p)}: {_t(p.type)}" for p in comp.params)
            self.lines.append(f"{indent}^bb0({args}):")
        self.body(comp, indent + "  ", "stablehlo.return")

    # operations
    def lhs(self, inst: Instruction) -> str:
        if inst.multi:
            n = len(inst.type.elements) if isinstance(inst.type, TupleType) else 1
            if n == 0:
                return ""
            return f"%{self.define(inst)}:{n} = "
        return f"%{self.define(inst)} = "

    def op(self, inst: Instruction, indent: str):
        """One op: a pretty printer returns its line, '' when it wrote its own lines, or None
        for the generic form."""
        fn = _PRETTY.get(inst.opcode)
        text = fn(self, inst, indent) if fn is not None else None
        if text is None:
            self.generic(inst, indent)
        elif text:
            self.lines.append(indent + text)

    def generic(self, inst: Instruction, indent: str):
        d = _opdef(inst)
        known = set(d.attrs) | set(d.optional_attrs) if d is not None else set()
        ours = d is not None and d.mlir_name.startswith("xltune.")  # all of our own attrs are inherent
        inherent = [k for k in inst.attrs if k in known or ours]
        other = [k for k in inst.attrs if k not in inherent]
        head = f"{indent}{self.lhs(inst)}\"{_mlir_name(inst)}\"({self.refs(inst.operands)})"
        if inherent:
            head += " <{" + _attr_dict(inst.attrs, inherent) + "}>"
        tail = ""
        if other:
            tail += " {" + _attr_dict(inst.attrs, other) + "}"
        tail += " : " + _fn_type([o.type for o in inst.operands], inst.result_types)
        if not inst.regions:
            self.lines.append(head + tail)
            return
        self.lines.append(head + " ({")
        for i, r in enumerate(inst.regions):
            if i:
                self.lines.append(f"{indent}}}, {{")
            self.region(r, indent)
        self.lines.append(f"{indent}}})" + tail)


# ---- pretty forms ------------------------------------------------------------------------------
def _only(inst, *keys) -> bool:
    return all(k in keys for k in inst.attrs)


def _same_or_fn(inst) -> str:
    rt = inst.type
    if all(o.type == rt for o in inst.operands):
        return _t(rt)
    return _fn_type([o.type for o in inst.operands], [rt])


def _p_elementwise(p: _Printer, inst: Instruction, indent):
    d = _opdef(inst)
    if d is None or inst.multi or inst.attrs or inst.regions:
        return None
    if d.mlir_name.startswith("stablehlo."):
        return f"{p.lhs(inst)}{d.mlir_name} {p.refs(inst.operands)} : {_same_or_fn(inst)}"
    if d.mlir_name.startswith("chlo.") and inst.opcode != "top_k":
        ins = ", ".join(_t(o.type) for o in inst.operands)
        return f"{p.lhs(inst)}{d.mlir_name} {p.refs(inst.operands)} : {ins} -> {_t(inst.type)}"
    return None


def _p_fn(inst, ops=None):
    return _fn_type([o.type for o in (ops if ops is not None else inst.operands)], inst.result_types)


def _p_constant(p, inst, indent):
    v = inst.attrs.get("value")
    if not _only(inst, "value") or not isinstance(v, np.ndarray) or not isinstance(inst.type, TensorType) \
            or v.shape != inst.type.shape or v.dtype != inst.type.dtype.np_dtype or inst.multi:
        return None
    return f"{p.lhs(inst)}stablehlo.constant {format_dense(v, inst.type.dtype)} : {_t(inst.type)}"


def _p_compare(p, inst, indent):
    if inst.multi or not _only(inst, "comparison_direction", "compare_type") or len(inst.operands) != 2:
        return None
    d = inst.attrs.get("comparison_direction")
    if not isinstance(d, str):
        return None
    ct = inst.attrs.get("compare_type")
    extra = f", {ct}" if isinstance(ct, str) else ""
    if "compare_type" in inst.attrs and not isinstance(ct, str):
        return None
    return f"{p.lhs(inst)}stablehlo.compare {d}, {p.refs(inst.operands)}{extra} : {_p_fn(inst)}"


def _p_select(p, inst, indent):
    if inst.multi or inst.attrs or len(inst.operands) != 3:
        return None
    pred, a, b = inst.operands
    if a.type == inst.type and b.type == inst.type:
        return f"{p.lhs(inst)}stablehlo.select {p.refs(inst.operands)} : {_t(pred.type)}, {_t(inst.type)}"
    return f"{p.lhs(inst)}stablehlo.select {p.refs(inst.operands)} : {_p_fn(inst)}"


def _kw_op(mlir, kw, attr, same_type=False):
    def fn(p, inst, indent):
        if inst.multi or not _only(inst, attr) or attr not in inst.attrs:
            return None
        v = inst.attrs[attr]
        if not isinstance(v, tuple) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return None
        ty = _same_or_fn(inst) if same_type else _p_fn(inst)
        return f"{p.lhs(inst)}{mlir} {p.refs(inst.operands)}, {kw} = {_int_list(v)} : {ty}"
    return fn


def _p_plain_fn(mlir):
    def fn(p, inst, indent):
        if inst.multi or inst.attrs or inst.regions:
            return None
        return f"{p.lhs(inst)}{mlir} {p.refs(inst.operands)} : {_p_fn(inst)}"
    return fn


def _p_iota(p, inst, indent):
    v = inst.attrs.get("iota_dimension")
    if inst.multi or not _only(inst, "iota_dimension") or not isinstance(v, int) or isinstance(v, bool):
        return None
    return f"{p.lhs(inst)}stablehlo.iota dim = {v} : {_t(inst.type)}"


def _p_concatenate(p, inst, indent):
    v = inst.attrs.get("dimension")
    if inst.multi or not _only(inst, "dimension") or not isinstance(v, int) or isinstance(v, bool) \
            or not inst.operands:
        return None
    return f"{p.lhs(inst)}stablehlo.concatenate {p.refs(inst.operands)}, dim = {v} : {_p_fn(inst)}"


def _ints(v) -> bool:
    return isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)


def _p_slice(p, inst, indent):
    a = inst.attrs
    keys = ("start_indices", "limit_indices", "strides")
    if inst.multi or not _only(inst, *keys) or not all(_ints(a.get(k)) for k in keys) \
            or not len(a["start_indices"]) == len(a["limit_indices"]) == len(a["strides"]):
        return None
    rng = ", ".join(f"{s}:{lim}" + (f":{st}" if st != 1 else "")
                    for s, lim, st in zip(a["start_indices"], a["limit_indices"], a["strides"]))
    return f"{p.lhs(inst)}stablehlo.slice {p.refs(inst.operands)} [{rng}] : {_p_fn(inst)}"


def _p_pad(p, inst, indent):
    a = inst.attrs
    keys = ("edge_padding_low", "edge_padding_high", "interior_padding")
    if inst.multi or not _only(inst, *keys) or not all(_ints(a.get(k)) for k in keys) or len(inst.operands) != 2:
        return None
    return (f"{p.lhs(inst)}stablehlo.pad {p.refs(inst.operands)}, low = {_int_list(a[keys[0]])}, "
            f"high = {_int_list(a[keys[1]])}, interior = {_int_list(a[keys[2]])} : {_p_fn(inst)}")


def _p_dot_general(p, inst, indent):
    dn = inst.attrs.get("dot_dimension_numbers")
    alg = inst.attrs.get("algorithm")
    if inst.multi or not _only(inst, "dot_dimension_numbers", "precision_config", "algorithm") \
            or not isinstance(dn, DotDimensionNumbers) or len(inst.operands) != 2:
        return None
    if alg is not None and not (isinstance(alg, RawAttr) and alg.text.startswith("#stablehlo.dot_algorithm<")):
        return None
    parts = []
    if dn.lhs_batching_dimensions or dn.rhs_batching_dimensions:
        parts.append(f"batching_dims = {_int_list(dn.lhs_batching_dimensions)} x "
                     f"{_int_list(dn.rhs_batching_dimensions)}")
    parts.append(f"contracting_dims = {_int_list(dn.lhs_contracting_dimensions)} x "
                 f"{_int_list(dn.rhs_contracting_dimensions)}")
    if "precision_config" in inst.attrs:
        pc = inst.attrs["precision_config"]
        if not isinstance(pc, tuple) or not all(isinstance(x, str) for x in pc):
            return None
        parts.append(f"precision = [{', '.join(pc)}]")
    if alg is not None:
        parts.append("algorithm = " + alg.text[len("#stablehlo.dot_algorithm"):])
    return f"{p.lhs(inst)}stablehlo.dot_general {p.refs(inst.operands)}, {', '.join(parts)} : {_p_fn(inst)}"


def _p_gte(p, inst, indent):
    v = inst.attrs.get("index")
    if inst.multi or not _only(inst, "index") or not isinstance(v, int) or isinstance(v, bool):
        return None
    return f"{p.lhs(inst)}stablehlo.get_tuple_element {p.refs(inst.operands)}[{v}] : {_p_fn(inst)}"


def _p_tuple(p, inst, indent):
    if inst.multi or inst.attrs or not isinstance(inst.type, TupleType) \
            or [o.type for o in inst.operands] != list(inst.type.elements):
        return None
    return f"{p.lhs(inst)}stablehlo.tuple {p.refs(inst.operands)} : {_t(inst.type)}"


def _p_custom_call(p, inst, indent):
    target = inst.attrs.get("call_target_name")
    if not isinstance(target, str) or inst.regions:
        return None
    rest = [k for k in inst.attrs if k != "call_target_name"]
    attrs = " {" + _attr_dict(inst.attrs, rest) + "}" if rest else ""
    return (f"{p.lhs(inst)}stablehlo.custom_call {symbol(target)}({p.refs(inst.operands)}){attrs} : "
            f"{_p_fn(inst)}")


def _p_expect_const(p, inst, indent):
    v = inst.attrs.get("value")
    if len(inst.operands) != 1 or not isinstance(v, np.ndarray) or inst.result_types or \
            not isinstance(inst.operands[0].type, TensorType):
        return None
    t = inst.operands[0].type
    if v.shape != t.shape or v.dtype != t.dtype.np_dtype:
        return None
    rest = [k for k in inst.attrs if k != "value"]
    attrs = " {" + _attr_dict(inst.attrs, rest) + "}" if rest else ""
    return f"{_opdef(inst).mlir_name} {p.refs(inst.operands)}, {format_dense(v, t.dtype)} : {_t(t)}{attrs}"


def _p_convolution(p, inst, indent):
    a = inst.attrs
    dn = a.get("dimension_numbers")
    if inst.multi or not isinstance(dn, ConvDimensionNumbers) or conv_dims_text(dn) is None \
            or len(inst.operands) != 2:
        return None
    win = []
    for key, kw in (("window_strides", "stride"), ("padding", "pad"), ("lhs_dilation", "lhs_dilate"),
                    ("rhs_dilation", "rhs_dilate"), ("window_reversal", "reverse")):
        if key not in a:
            continue
        v = a[key]
        if not isinstance(v, tuple):
            return None
        if key == "padding":
            if not all(isinstance(x, tuple) and len(x) == 2 for x in v):
                return None
            win.append(f"pad = [{', '.join(f'[{int(x)}, {int(y)}]' for x, y in v)}]")
        elif key == "window_reversal":
            if not all(isinstance(x, (bool, np.bool_)) for x in v):
                return None
            win.append(f"reverse = [{', '.join('true' if x else 'false' for x in v)}]")
        else:
            if not _ints(v):
                return None
            win.append(f"{kw} = {_int_list(v)}")
    if not win and "padding" in a:
        return None
    rest = [k for k in a if k not in ("dimension_numbers", "window_strides", "padding", "lhs_dilation",
                                      "rhs_dilation", "window_reversal")]
    attrs = " {" + _attr_dict(a, rest) + "}" if rest else ""
    return (f"{p.lhs(inst)}stablehlo.convolution({p.refs(inst.operands)}) dim_numbers = {conv_dims_text(dn)}, "
            f"window = {{{', '.join(win)}}}{attrs} : {_p_fn(inst)}")


def _p_reduce(p: _Printer, inst: Instruction, indent):
    dims = inst.attrs.get("dimensions")
    if not _only(inst, "dimensions") or not _ints(dims) or len(inst.regions) != 1:
        return None
    ops = inst.operands
    if len(ops) % 2 or not ops:
        return None
    n = len(ops) // 2
    body = inst.regions[0]
    if len(body.params) != 2 * n:
        return None
    pairs = ", ".join(f"({p.ref(ops[i])} init: {p.ref(ops[i + n])})" for i in range(n))
    dims_text = _int_list(dims)
    fn = _p_fn(inst)
    # compact `applies` form: one commutative stablehlo binary op on the two scalar arguments
    real = [i for i in body.instructions if i.opcode != "parameter"]
    if n == 1 and len(real) == 1 and body.outputs == real:
        r = real[0]
        d = _opdef(r)
        scalar = TensorType((), ops[0].type.dtype) if isinstance(ops[0].type, TensorType) else None
        if d is not None and d.commutative and d.mlir_name.startswith("stablehlo.") and d.arity == 2 \
                and not r.attrs and not r.regions and not r.multi and list(r.operands) == body.params \
                and r.type == scalar and all(q.type == scalar for q in body.params):
            return f"{p.lhs(inst)}stablehlo.reduce{pairs} applies {d.mlir_name} across dimensions = {dims_text} : {fn}"
    lhs = p.lhs(inst)
    args = [f"%{p.define(q)}: {_t(q.type)}" for q in body.params]
    reducer = " ".join(f"({args[i]}, {args[i + n]})" for i in range(n))
    p.lines.append(f"{indent}{lhs}stablehlo.reduce{pairs} across dimensions = {dims_text} : {fn}")
    p.lines.append(f"{indent} reducer{reducer} {{")
    p.body(body, indent + "  ", "stablehlo.return")
    p.lines.append(f"{indent}}}")
    return ""


def _p_while(p: _Printer, inst: Instruction, indent):
    if inst.attrs or len(inst.regions) != 2:
        return None
    cond, body = inst.regions
    ops = inst.operands
    types = [o.type for o in ops]
    if [q.type for q in cond.params] != types or [q.type for q in body.params] != types \
            or list(inst.result_types) != types:
        return None
    names = []
    for c, b in zip(cond.params, body.params):
        nm = p.define(c, c.name or "iterArg")
        p.names[b] = nm
        names.append(nm)
    carried = ", ".join(f"%{nm} = {p.ref(o)}" for nm, o in zip(names, ops))
    head = f"{indent}{p.lhs(inst)}stablehlo.while({carried})"
    if ops:
        head += " : " + ", ".join(_t(t) for t in types)
    p.lines.append(head)
    p.lines.append(f"{indent} cond {{")
    p.body(cond, indent + "  ", "stablehlo.return")
    p.lines.append(f"{indent}}} do {{")
    p.body(body, indent + "  ", "stablehlo.return")
    p.lines.append(f"{indent}}}")
    return ""


_PRETTY = {
    "constant": _p_constant,
    "compare": _p_compare,
    "select": _p_select,
    "broadcast_in_dim": _kw_op("stablehlo.broadcast_in_dim", "dims", "broadcast_dimensions"),
    "transpose": _kw_op("stablehlo.transpose", "dims", "permutation"),
    "reverse": _kw_op("stablehlo.reverse", "dims", "dimensions", same_type=True),
    "dynamic_slice": _kw_op("stablehlo.dynamic_slice", "sizes", "slice_sizes"),
    "reshape": _p_plain_fn("stablehlo.reshape"),
    "bitcast_convert": _p_plain_fn("stablehlo.bitcast_convert"),
    "dynamic_update_slice": _p_plain_fn("stablehlo.dynamic_update_slice"),
    "iota": _p_iota,
    "concatenate": _p_concatenate,
    "slice": _p_slice,
    "pad": _p_pad,
    "dot_general": _p_dot_general,
    "get_tuple_element": _p_gte,
    "tuple": _p_tuple,
    "custom_call": _p_custom_call,
    "expect_eq_const": _p_expect_const,
    "expect_almost_eq_const": _p_expect_const,
    "convolution": _p_convolution,
    "reduce": _p_reduce,
    "while": _p_while,
}


_registered = False


def _register_elementwise():
    """Elementwise ops without attributes print as `stablehlo.add %a, %b : T` (done on first
    use so that importing the printer does not import the op table)."""
    global _registered
    if _registered:
        return
    from .ops import ELEMENTWISE, OPS
    for name, d in OPS.items():
        if d.category == ELEMENTWISE and name not in _PRETTY and not d.attrs and d.arity in (1, 2, 3):
            _PRETTY[name] = _p_elementwise
    _registered = True


# ---- entry points --------------------------------------------------------------------------------
def print_computation(comp: Computation, indent: str = "") -> str:
    p = _Printer()
    p.function(comp, indent)
    return "\n".join(p.lines) + "\n"


def print_module(module: Module) -> str:
    head = "module"
    if module.name:
        head += " " + symbol(module.name)
    if module.attrs:
        head += f" attributes {module.attrs}"
    lines = [head + " {"]
    names = list(module.functions)
    if module.entry_name in module.functions:  # entry first: it is what readers look for
        names.remove(module.entry_name)
        names.insert(0, module.entry_name)
    for name in names:
        comp = module.functions[name]
        if comp.name != name:
            comp = _renamed(comp, name)
        lines.append(print_computation(comp, "  ").rstrip("\n"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _renamed(comp: Computation, name: str) -> Computation:
    c = comp.clone(name=name)
    return c


# ---- XLA-HLO-style display ---------------------------------------------------------------------
_HLO_OPCODE = {
    "broadcast_in_dim": "broadcast", "dot_general": "dot", "round_nearest_afz": "round-nearest-afz",
    "round_nearest_even": "round-nearest-even", "exponential_minus_one": "exponential-minus-one",
    "log_plus_one": "log-plus-one", "get_tuple_element": "get-tuple-element",
}


def _hlo_opcode(op: str) -> str:
    return _HLO_OPCODE.get(op, op.replace("_", "-"))


def _hlo_type(t) -> str:
    return getattr(t, "hlo", str(t))


def _hlo_attr(k, v) -> str:
    if isinstance(v, tuple) and all(isinstance(x, int) for x in v):
        return f"{k}={{{','.join(map(str, v))}}}"
    if isinstance(v, np.ndarray):
        if v.size <= 8:
            return f"{k}={np.array2string(v.reshape(-1), separator=',')}"
        return f"{k}={{...}}"
    if isinstance(v, (DotDimensionNumbers, GatherDimensionNumbers, ScatterDimensionNumbers)):
        return ", ".join(f"{f}={{{','.join(map(str, x))}}}" if isinstance(x, tuple) else f"{f}={x}"
                         for f, x in vars(v).items() if x != () and x != 0)
    if isinstance(v, ConvDimensionNumbers):
        return f"dim_labels={conv_dims_text(v) or '?'}"
    if isinstance(v, RawAttr):
        return f"{k}={v.text}"
    return f"{k}={v}"


class _HloPrinter:
    def __init__(self):
        self.blocks: list[list[str]] = []
        self.names: dict[Instruction, str] = {}
        self.used: set[str] = set()
        self.counter = 0
        self.comp_names: dict[Computation, str] = {}

    def name(self, inst: Instruction) -> str:
        n = self.names.get(inst)
        if n is not None:
            return n
        self.counter += 1
        raw = str(inst.name) if inst.name is not None else ""
        if inst.opcode == "parameter":
            base = raw if raw and not raw.isdigit() else f"Arg_{inst.attrs.get('index', 0)}"
        elif not raw or raw[0].isdigit() or "#" in raw:
            base = f"{_hlo_opcode(inst.opcode)}.{self.counter}"
        else:
            base = raw
        n = base
        k = 1
        while n in self.used:
            n = f"{base}.{k}"
            k += 1
        self.used.add(n)
        self.names[inst] = n
        return n

    def comp_name(self, comp: Computation, owner: Instruction | None) -> str:
        n = self.comp_names.get(comp)
        if n is None:
            if owner is not None and owner.opcode == "fusion":
                fname = str(owner.attrs.get("name") or "")
                base = ("fused_computation" + fname[len("fusion"):] if fname.startswith("fusion")
                        else fname or "fused_computation")
            elif owner is not None:
                base = f"region_{len(self.comp_names)}"
            else:
                base = comp.name
            n = base
            k = 1
            while n in self.comp_names.values():
                n = f"{base}.{k}"
                k += 1
            self.comp_names[comp] = n
        return n

    def computation(self, comp: Computation, entry: bool, owner=None):
        # nested computations first (fused computations and region bodies)
        for inst in comp.instructions:
            for r in inst.regions:
                self.computation(r, False, inst)
        cname = self.comp_name(comp, owner)
        lines = []
        params = ", ".join(f"{self.name(q)}: {_hlo_type(q.type)}" for q in comp.params)
        outs = comp.outputs
        rtype = _hlo_type(outs[0].type) if len(outs) == 1 else "(" + ", ".join(_hlo_type(o.type) for o in outs) + ")"
        lines.append(f"{'ENTRY ' if entry else ''}%{cname} ({params}) -> {rtype} {{")
        root_single = outs[0] if len(outs) == 1 else None
        for inst in comp.instructions:
            line = self.instruction(inst)
            prefix = "ROOT " if inst is root_single else ""
            lines.append(f"  {prefix}{line}")
        if len(outs) != 1:
            self.counter += 1
            lines.append(f"  ROOT %tuple.{self.counter} = {rtype} tuple("
                         + ", ".join(f"%{self.name(o)}" for o in outs) + ")")
        elif root_single is not None and root_single not in comp.instructions:
            lines.append(f"  ROOT %copy.{self.counter} = {rtype} copy(%{self.name(root_single)})")
        lines.append("}")
        self.blocks.append(lines)

    def instruction(self, inst: Instruction) -> str:
        n = self.name(inst)
        ty = _hlo_type(inst.type)
        if inst.opcode == "parameter":
            return f"%{n} = {ty} parameter({inst.attrs.get('index', 0)})"
        if inst.opcode == "constant":
            v = inst.attrs.get("value")
            if isinstance(v, np.ndarray) and v.size == 1:
                x = v.reshape(-1)[0]
                body = ("true" if x else "false") if v.dtype == np.bool_ else str(x).lower()
            elif isinstance(v, np.ndarray) and v.size <= 8:
                body = np.array2string(v, separator=", ").replace("[", "{").replace("]", "}")
            else:
                body = "{...}"
            return f"%{n} = {ty} constant({body})"
        args = ", ".join(f"%{self.name(o)}" for o in inst.operands)
        extra = []
        for k, v in inst.attrs.items():
            if inst.opcode == "get_tuple_element" and k == "index":
                extra.append(f"index={v}")
            elif k == "comparison_direction":
                extra.append(f"direction={v}")
            elif k == "broadcast_dimensions" and inst.opcode == "broadcast_in_dim":
                extra.append(_hlo_attr("dimensions", v))
            else:
                extra.append(_hlo_attr(k, v))
        if inst.opcode == "fusion":
            kind = str(inst.attrs.get("kind", "loop"))
            extra = [f"kind=k{kind[:1].upper()}{kind[1:]}"] + [e for e in extra if not e.startswith(("kind=", "name="))]
            extra.append("calls=" + ", ".join(f"%{self.comp_name(r, inst)}" for r in inst.regions))
        elif inst.regions:
            key = "to_apply" if len(inst.regions) == 1 else "calls"
            extra.append(f"{key}=" + ", ".join(f"%{self.comp_name(r, inst)}" for r in inst.regions))
        tail = (", " + ", ".join(extra)) if extra else ""
        return f"%{n} = {ty} {_hlo_opcode(inst.opcode)}({args}){tail}"


def print_hlo(module: Module) -> str:
    """An XLA-HLO-like listing for display (not meant to be parsed)."""
    hp = _HloPrinter()
    out = [f"HloModule {module.name or 'module'}", ""]
    order = list(module.functions)
    if module.entry_name in module.functions:
        order.remove(module.entry_name)
        order.append(module.entry_name)
    for name in order:
        comp = module.functions[name]
        hp.comp_names.setdefault(comp, name)
        hp.computation(comp, entry=name == module.entry_name)
    for block in hp.blocks:
        out.extend(block)
        out.append("")
    return "\n".join(out)


__all__ = ["print_module", "print_computation", "print_hlo", "attr_text", "symbol"]
