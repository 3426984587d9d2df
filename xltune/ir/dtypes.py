"""Element types: one DType object per StableHLO element type, with its numpy twin.

The MLIR spelling ('f32', 'ui8', 'i1', 'complex<f32>', 'f8E4M3FN') is the name; the HLO
spelling ('f32', 'u8', 'pred', 'c64') is kept for the HLO-style printer.
"""
from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

from ..errors import XltuneError

PRED, SINT, UINT, FLOAT, COMPLEX = "pred", "sint", "uint", "float", "complex"


@dataclass(frozen=True)
class DType:
    name: str  # MLIR spelling
    kind: str  # PRED | SINT | UINT | FLOAT | COMPLEX
    bits: int
    np_dtype: np.dtype
    hlo_name: str

    def __repr__(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name

    @property
    def is_pred(self) -> bool:
        return self.kind == PRED

    @property
    def is_int(self) -> bool:
        """Signed or unsigned integer (not pred)."""
        return self.kind in (SINT, UINT)

    @property
    def is_signed(self) -> bool:
        return self.kind == SINT

    @property
    def is_unsigned(self) -> bool:
        return self.kind == UINT

    @property
    def is_float(self) -> bool:
        return self.kind == FLOAT

    @property
    def is_complex(self) -> bool:
        return self.kind == COMPLEX

    @property
    def is_integral(self) -> bool:
        """pred or integer: the types bitwise ops accept."""
        return self.kind in (PRED, SINT, UINT)

    @property
    def itemsize(self) -> int:
        return self.np_dtype.itemsize

    @property
    def component(self) -> "DType":
        """Element type of the real/imaginary parts of a complex type; itself otherwise."""
        if self.name == "complex<f32>":
            return F32
        if self.name == "complex<f64>":
            return F64
        return self


def _d(name, kind, bits, np_dtype, hlo):
    return DType(name, kind, bits, np.dtype(np_dtype), hlo)


I1 = _d("i1", PRED, 1, np.bool_, "pred")
I2 = _d("i2", SINT, 2, ml_dtypes.int2, "s2")
I4 = _d("i4", SINT, 4, ml_dtypes.int4, "s4")
I8 = _d("i8", SINT, 8, np.int8, "s8")
I16 = _d("i16", SINT, 16, np.int16, "s16")
I32 = _d("i32", SINT, 32, np.int32, "s32")
I64 = _d("i64", SINT, 64, np.int64, "s64")
UI2 = _d("ui2", UINT, 2, ml_dtypes.uint2, "u2")
UI4 = _d("ui4", UINT, 4, ml_dtypes.uint4, "u4")
UI8 = _d("ui8", UINT, 8, np.uint8, "u8")
UI16 = _d("ui16", UINT, 16, np.uint16, "u16")
UI32 = _d("ui32", UINT, 32, np.uint32, "u32")
UI64 = _d("ui64", UINT, 64, np.uint64, "u64")
F16 = _d("f16", FLOAT, 16, np.float16, "f16")
BF16 = _d("bf16", FLOAT, 16, ml_dtypes.bfloat16, "bf16")
F32 = _d("f32", FLOAT, 32, np.float32, "f32")
F64 = _d("f64", FLOAT, 64, np.float64, "f64")
C64 = _d("complex<f32>", COMPLEX, 64, np.complex64, "c64")
C128 = _d("complex<f64>", COMPLEX, 128, np.complex128, "c128")

_F8 = {
    "f8E3M4": ml_dtypes.float8_e3m4,
    "f8E4M3": ml_dtypes.float8_e4m3,
    "f8E4M3FN": ml_dtypes.float8_e4m3fn,
    "f8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "f8E4M3B11FNUZ": ml_dtypes.float8_e4m3b11fnuz,
    "f8E5M2": ml_dtypes.float8_e5m2,
    "f8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "f8E8M0FNU": ml_dtypes.float8_e8m0fnu,
}
# Sub-byte floats (one byte of storage each, like the f8 types).
_F_SUB = {
    "f4E2M1FN": (ml_dtypes.float4_e2m1fn, 4),
    "f6E2M3FN": (ml_dtypes.float6_e2m3fn, 6),
    "f6E3M2FN": (ml_dtypes.float6_e3m2fn, 6),
}

ALL: tuple[DType, ...] = (
    I1, I2, I4, I8, I16, I32, I64, UI2, UI4, UI8, UI16, UI32, UI64,
    F16, BF16, F32, F64, C64, C128,
) + tuple(_d(n, FLOAT, 8, t, n.lower()) for n, t in _F8.items()) + tuple(
    _d(n, FLOAT, b, t, n.lower()) for n, (t, b) in _F_SUB.items())

_BY_NAME: dict[str, DType] = {d.name: d for d in ALL}
_BY_NAME.update({d.hlo_name: d for d in ALL})
_BY_NAME["pred"] = I1
_BY_NAME["bool"] = I1
_BY_NAME["c64"] = C64
_BY_NAME["c128"] = C128
_BY_NP: dict[np.dtype, DType] = {}
for _dt in ALL:
    _BY_NP.setdefault(_dt.np_dtype, _dt)


def dtype(name_or_np) -> DType:
    """Look a dtype up by MLIR name ('f32', 'complex<f64>'), HLO name ('s32', 'pred') or numpy dtype."""
    if isinstance(name_or_np, DType):
        return name_or_np
    if isinstance(name_or_np, str) and name_or_np in _BY_NAME:
        return _BY_NAME[name_or_np]
    try:
        npd = np.dtype(name_or_np)
    except TypeError:
        npd = None
    if npd is not None and npd in _BY_NP:
        return _BY_NP[npd]
    raise XltuneError(f"unknown element type {name_or_np!r}")


def from_numpy(np_dtype) -> DType:
    return dtype(np.dtype(np_dtype))


def is_known(name: str) -> bool:
    return name in _BY_NAME
