"""How each element type lives in memory (storage) and in registers (compute values).

| dtype            | storage        | compute value                                        |
| ---------------- | -------------- | ---------------------------------------------------- |
| pred (i1)        | i8 (0 / 1)     | i1                                                   |
| iN / uiN, N>=8   | iN             | iN (signedness is the op's business)                 |
| i2/i4/ui2/ui4    | i8 (low bits)  | i2 / i4 (wrapping arithmetic at the real width)      |
| f16              | half           | float, always exactly representable in f16           |
| bf16             | i16 (the bits) | float, always exactly representable in bf16          |
| f32 / f64        | float / double | float / double                                       |
| complex<fN>      | 2 x fN         | a Python tuple (re, im) of fN values                 |

f16/bf16 values are computed in f32 and rounded back after every op (`round_to`), so each op
gives exactly what the interpreter gives; chains do not silently gain precision.
f8 types have no native lowering yet (kernels touching them fall back to the interpreter).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ..ir import dtypes as D
from ..ir.dtypes import DType

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F16 = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

_NATIVE_FLOATS = ("f16", "bf16", "f32", "f64")


class NotLowerable(Exception):
    """This op/dtype combination has no native lowering (the caller falls back)."""


def supported_dtype(dt: DType) -> bool:
    if dt.is_float:
        return dt.name in _NATIVE_FLOATS
    return True


def _check(dt: DType):
    if not supported_dtype(dt):
        raise NotLowerable(f"element type {dt} has no native lowering")


def storage_type(dt: DType) -> ir.Type:
    _check(dt)
    if dt.is_pred:
        return I8
    if dt.is_int:
        return ir.IntType(max(8, dt.bits))
    if dt.name == "f16":
        return F16
    if dt.name == "bf16":
        return I16
    if dt.name == "f32":
        return F32
    if dt.name == "f64":
        return F64
    if dt.is_complex:
        return storage_type(dt.component)
    raise NotLowerable(f"element type {dt} has no native lowering")


def compute_type(dt: DType) -> ir.Type:
    """The register type of one (real) value; for complex, the type of each component."""
    _check(dt)
    if dt.is_pred:
        return I1
    if dt.is_int:
        return ir.IntType(dt.bits)
    if dt.name in ("f16", "bf16", "f32"):
        return F32
    if dt.name == "f64":
        return F64
    if dt.is_complex:
        return compute_type(dt.component)
    raise NotLowerable(f"element type {dt} has no native lowering")


def is_narrow_float(dt: DType) -> bool:
    return dt.name in ("f16", "bf16")


def lanes(dt: DType) -> int:
    """Storage elements per value (2 for complex)."""
    return 2 if dt.is_complex else 1


# ---- memory ----------------------------------------------------------------------------------------
def element_ptr(b: ir.IRBuilder, base, dt: DType, linear):
    """Address of element `linear` (an i64 value) of a buffer of dt."""
    st = storage_type(dt)
    if dt.is_complex:
        linear = b.shl(linear, ir.Constant(I64, 1))
    return b.gep(base, [linear], inbounds=True, source_etype=st)


def load(b: ir.IRBuilder, base, dt: DType, linear):
    st = storage_type(dt)
    p = element_ptr(b, base, dt, linear)
    if dt.is_complex:
        re = b.load(p, typ=st)
        im = b.load(b.gep(p, [ir.Constant(I64, 1)], inbounds=True, source_etype=st), typ=st)
        return (re, im)
    raw = b.load(p, typ=st)
    return from_storage(b, dt, raw)


def store(b: ir.IRBuilder, base, dt: DType, linear, value):
    st = storage_type(dt)
    p = element_ptr(b, base, dt, linear)
    if dt.is_complex:
        b.store(value[0], p)
        b.store(value[1], b.gep(p, [ir.Constant(I64, 1)], inbounds=True, source_etype=st))
        return
    b.store(to_storage(b, dt, value), p)


def from_storage(b: ir.IRBuilder, dt: DType, raw):
    if dt.is_pred:
        return b.icmp_unsigned("!=", raw, ir.Constant(I8, 0))
    if dt.is_int and dt.bits < 8:
        return b.trunc(raw, ir.IntType(dt.bits))
    if dt.name == "f16":
        return b.fpext(raw, F32)
    if dt.name == "bf16":
        return bf16_bits_to_f32(b, raw)
    return raw


def to_storage(b: ir.IRBuilder, dt: DType, value):
    if dt.is_pred:
        return b.zext(value, I8)
    if dt.is_int and dt.bits < 8:
        # ml_dtypes keeps int4/int2 in the low bits of a byte, high bits zero
        return b.zext(value, I8)
    if dt.name == "f16":
        return b.fptrunc(value, F16)
    if dt.name == "bf16":
        return f32_to_bf16_bits(b, value)
    return value


# ---- bf16 / f16 rounding ---------------------------------------------------------------------------
def bf16_bits_to_f32(b: ir.IRBuilder, bits):
    return b.bitcast(b.shl(b.zext(bits, I32), ir.Constant(I32, 16)), F32)


def f32_to_bf16_bits(b: ir.IRBuilder, x):
    """Round to nearest even (what ml_dtypes does); NaN stays NaN (quiet bit set, sign kept)."""
    bits = b.bitcast(x, I32)
    lsb = b.and_(b.lshr(bits, ir.Constant(I32, 16)), ir.Constant(I32, 1))
    rounded = b.add(b.add(bits, ir.Constant(I32, 0x7FFF)), lsb)
    hi = b.lshr(rounded, ir.Constant(I32, 16))
    nan_hi = b.or_(b.lshr(bits, ir.Constant(I32, 16)), ir.Constant(I32, 0x40))
    is_nan = b.fcmp_unordered("uno", x, x)
    return b.trunc(b.select(is_nan, nan_hi, hi), I16)


def round_to(b: ir.IRBuilder, dt: DType, value):
    """Round an f32 compute value to what dt can hold (identity for wide types)."""
    if dt.name == "f16":
        return b.fpext(b.fptrunc(value, F16), F32)
    if dt.name == "bf16":
        return bf16_bits_to_f32(b, f32_to_bf16_bits(b, value))
    return value


# ---- constants -------------------------------------------------------------------------------------
def constant(dt: DType, value):
    """A compute value for a Python/numpy scalar of dtype dt."""
    ct = compute_type(dt)
    if dt.is_complex:
        c = complex(value)
        return (ir.Constant(ct, float(np.array(c.real, dt.component.np_dtype))),
                ir.Constant(ct, float(np.array(c.imag, dt.component.np_dtype))))
    if dt.is_pred:
        return ir.Constant(I1, int(bool(value)))
    if dt.is_int:
        return ir.Constant(ct, int(value) & ((1 << dt.bits) - 1))
    # floats: go through the dtype so the constant is exactly the stored value
    v = float(np.asarray(value).astype(dt.np_dtype).astype(np.float64))
    return ir.Constant(ct, v)


def zero(dt: DType):
    return constant(dt, 0)


def llvm_float_suffix(t: ir.Type) -> str:
    if t == F32:
        return "f32"
    if t == F64:
        return "f64"
    if t == F16:
        return "f16"
    raise NotLowerable(f"no float suffix for {t}")


def int_suffix(t: ir.IntType) -> str:
    return f"i{t.width}"


__all__ = ["I1", "I8", "I16", "I32", "I64", "F16", "F32", "F64", "PTR", "VOID", "NotLowerable",
           "storage_type", "compute_type", "load", "store", "constant", "round_to", "supported_dtype",
           "element_ptr", "is_narrow_float", "D"]
