"""Elementwise ops: result[i] = f(operands[i]...). Shape rule: all operand shapes equal (clamp may
take scalar min/max, select a scalar pred), result dtype per op. Numpy evaluation follows
StableHLO semantics exactly (integer wrapping, division by zero, shift amounts >= bit width, NaN
propagation in min/max...); see _num.py for the compute-type conventions.

Evaluations take their shapes from the operand *values*, not the declared types, so a region made
of elementwise ops can be evaluated on whole arrays at once (the interpreter's vectorized path
for reduce/scatter/sort bodies).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as D
from ..types import TensorType
from . import ELEMENTWISE, defop
from . import _num as N
from . import _special as S
from ._common import needs_type, complex_of, count, same_dtype, same_shape, tensor_arg, tensors


# ---- shape rules -------------------------------------------------------------------------------
def _kinds(dt, allowed: str, op: str):
    ok = {"i": dt.is_int, "p": dt.is_pred, "f": dt.is_float, "c": dt.is_complex}
    if not any(ok[k] for k in allowed):
        names = {"i": "integer", "p": "boolean", "f": "floating-point", "c": "complex"}
        raise TypeError(f"element type {dt} is not supported (expects "
                        f"{' or '.join(names[k] for k in allowed)})")


def _same_unary(allowed: str):
    def infer(ts, attrs, regions):
        count(ts, 1)
        t = tensor_arg(ts[0])
        _kinds(t.dtype, allowed, "")
        return t
    return infer


def _pred_unary(allowed: str):
    def infer(ts, attrs, regions):
        count(ts, 1)
        t = tensor_arg(ts[0])
        _kinds(t.dtype, allowed, "")
        return TensorType(t.shape, D.I1)
    return infer


def _part_unary(ts, attrs, regions):  # abs, real, imag: complex -> its part type
    count(ts, 1)
    t = tensor_arg(ts[0])
    return TensorType(t.shape, t.dtype.component)


def _same_binary(allowed: str):
    def infer(ts, attrs, regions):
        count(ts, 2)
        ts = tensors(ts)
        same_shape(ts)
        dt = same_dtype(ts)
        _kinds(dt, allowed, "")
        return ts[0]
    return infer


def _shift_infer(ts, attrs, regions):
    return _same_binary("i")(ts, attrs, regions)


def _compare_infer(ts, attrs, regions):
    count(ts, 2)
    ts = tensors(ts)
    shape = same_shape(ts)
    same_dtype(ts)
    d = attrs.get("comparison_direction")
    if d not in ("EQ", "NE", "GE", "GT", "LE", "LT"):
        raise ValueError(f"bad comparison_direction {d!r}")
    return TensorType(shape, D.I1)


def _complex_infer(ts, attrs, regions):
    count(ts, 2)
    ts = tensors(ts)
    shape = same_shape(ts)
    dt = same_dtype(ts)
    return TensorType(shape, complex_of(dt))


def _clamp_infer(ts, attrs, regions):
    count(ts, 3)
    lo, x, hi = tensors(ts)
    for b, what in ((lo, "min"), (hi, "max")):
        if b.shape != () and b.shape != x.shape:
            raise ValueError(f"{what} must be a scalar or have the operand's shape, got {b} vs {x}")
        if b.dtype != x.dtype:
            raise TypeError(f"{what} element type {b.dtype} differs from the operand's {x.dtype}")
    return x


def _select_infer(ts, attrs, regions):
    count(ts, 3)
    p, a, b = tensors(ts)
    if not p.dtype.is_pred:
        raise TypeError(f"pred must be i1, got {p}")
    if a != b:
        raise TypeError(f"on_true and on_false types differ: {a} vs {b}")
    if p.shape != () and p.shape != a.shape:
        raise ValueError(f"pred must be a scalar or have the operands' shape, got {p} vs {a}")
    return a


def _reduce_precision_infer(ts, attrs, regions):
    count(ts, 1)
    t = tensor_arg(ts[0])
    _kinds(t.dtype, "f", "")
    if int(attrs["exponent_bits"]) < 1 or int(attrs["mantissa_bits"]) < 0:
        raise ValueError("exponent_bits must be >= 1 and mantissa_bits >= 0")
    return t


def _polygamma_infer(ts, attrs, regions):
    return _same_binary("f")(ts, attrs, regions)


# ---- evaluation helpers --------------------------------------------------------------------------
def _dt(inst, i=0):
    return inst.operands[i].type.dtype


def _rdt(inst):
    return inst.type.dtype


def _float_map(fn, cfn=None):
    """Unary op on floats (computed in f64) and complex (computed in c128)."""
    def ev(inst, args, _ev):
        dt = _dt(inst)
        x = N.to_compute(args[0], dt)
        if dt.is_complex:
            if cfn is None:
                raise TypeError(f"complex operands are not supported")
            y = cfn(x)
        else:
            y = fn(x)
        return N.from_compute(y, _rdt(inst))
    return ev


def _float_map_dt(fn, cfn=None):
    """Like _float_map, but fn also receives the element type (to emulate its rounding)."""
    def ev(inst, args, _ev):
        dt = _dt(inst)
        x = N.to_compute(args[0], dt)
        y = cfn(x) if dt.is_complex else fn(x, dt)
        return N.from_compute(y, _rdt(inst))
    return ev


def _float_map2(fn, cfn=None):
    def ev(inst, args, _ev):
        dt = _dt(inst)
        a, b = (N.to_compute(v, dt) for v in args)
        y = (cfn if dt.is_complex else fn)(a, b)
        return N.from_compute(y, _rdt(inst))
    return ev


def _ev_abs(inst, args, _ev):
    dt = _dt(inst)
    x = args[0]
    if dt.is_int:
        return N.wrap_int(np.abs(N.to_int(x, dt)), dt)
    if dt.is_complex:
        return N.from_compute(np.abs(N.to_compute(x, dt)), dt.component)
    return N.from_compute(np.abs(N.to_compute(x, dt)), dt)


def _ev_negate(inst, args, _ev):
    dt = _dt(inst)
    x = args[0]
    if dt.is_int:
        return N.wrap_int(np.negative(N.to_int(x, dt)), dt)
    return N.from_compute(-N.to_compute(x, dt), dt)


def _ev_not(inst, args, _ev):
    dt = _dt(inst)
    if dt.is_pred:
        return np.logical_not(args[0])
    return N.wrap_int(np.invert(N.to_int(args[0], dt)), dt)


def _ev_popcnt(inst, args, _ev):
    dt = _dt(inst)
    u = N.to_uint_bits(args[0], dt)
    return N.wrap_int(np.bitwise_count(u).astype(np.int64), dt)


def _ev_clz(inst, args, _ev):
    dt = _dt(inst)
    u = N.to_uint_bits(args[0], dt).astype(np.uint64)
    n = np.zeros(u.shape, np.int64)
    v = u.copy()
    # bit length by binary search
    for s in (32, 16, 8, 4, 2, 1):
        big = v >= (np.uint64(1) << np.uint64(s))
        n = np.where(big, n + s, n)
        v = np.where(big, v >> np.uint64(s), v)
    bitlen = np.where(u == 0, 0, n + 1)
    return N.wrap_int(dt.bits - bitlen, dt)


def _ev_sign(inst, args, _ev):
    dt = _dt(inst)
    x = args[0]
    if dt.is_int:
        xi = N.to_int(x, dt)
        return N.wrap_int(np.sign(xi), dt)
    c = N.to_compute(x, dt)
    if dt.is_complex:
        mag = np.abs(c)
        nan = np.isnan(c.real) | np.isnan(c.imag)
        zero = (c == 0)
        y = np.where(zero | nan, 0, c / np.where(zero | nan, 1, mag))
        y = np.where(nan, complex(np.nan, np.nan), y)
        return N.from_compute(y, dt)
    y = np.where(np.isnan(c), c, np.where(c == 0, c, np.sign(c)))
    return N.from_compute(y, dt)


def _round_afz(x):
    t = np.trunc(x)
    frac = x - t
    return np.where(np.abs(frac) >= 0.5, t + np.copysign(1.0, x), t)


def _ev_is_finite(inst, args, _ev):
    return np.isfinite(N.to_compute(args[0], _dt(inst)))


def _ev_real(inst, args, _ev):
    dt = _dt(inst)
    if dt.is_complex:
        return np.ascontiguousarray(args[0].real).astype(dt.component.np_dtype)
    return args[0]


def _ev_imag(inst, args, _ev):
    dt = _dt(inst)
    if dt.is_complex:
        return np.ascontiguousarray(args[0].imag).astype(dt.component.np_dtype)
    return np.zeros_like(args[0])


def _ev_conj(inst, args, _ev):
    dt = _dt(inst)
    return np.conj(args[0]) if dt.is_complex else args[0]


def _ev_logistic(inst, args, _ev):
    dt = _dt(inst)
    x = N.to_compute(args[0], dt)
    if dt.is_complex:
        return N.from_compute(1.0 / (1.0 + np.exp(-x)), dt)
    # stable for large |x|
    y = np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))
    return N.from_compute(y, dt)


def _cbrt_complex(x):
    theta = np.arctan2(x.imag, x.real) / 3.0
    r = np.power(x.real ** 2 + x.imag ** 2, 1.0 / 6.0)
    return r * (np.cos(theta) + 1j * np.sin(theta))


def _ev_reduce_precision(inst, args, _ev):
    dt = _dt(inst)
    return S.reduce_precision(args[0], dt, int(inst.attrs["exponent_bits"]), int(inst.attrs["mantissa_bits"]))


def _ev_is_inf(kind):
    def ev(inst, args, _ev):
        x = N.to_compute(args[0], _dt(inst))
        if kind == "any":
            return np.isinf(x)
        return x == (np.inf if kind == "pos" else -np.inf)
    return ev


def _ev_square(inst, args, _ev):
    dt = _dt(inst)
    x = args[0]
    if dt.is_int:
        xi = N.to_int(x, dt)
        return N.wrap_int(xi * xi, dt)
    c = N.to_compute(x, dt)
    return N.from_compute(c * c, dt)


# ---- binary --------------------------------------------------------------------------------------
def _arith(int_fn, float_fn, pred_fn=None, exact_native: bool = False):
    """exact_native: the op is correctly rounded in numpy's own arithmetic for every float type
    (numpy and ml_dtypes compute f16/bf16/f8 through f32, where one +, -, *, / or fmod rounds
    innocuously), so floats skip the round trip through f64."""
    def ev(inst, args, _ev):
        dt = _dt(inst)
        a, b = args
        if dt.is_pred:
            if pred_fn is None:
                raise TypeError("boolean operands are not supported")
            return pred_fn(a, b)
        if dt.is_int:
            return N.wrap_int(int_fn(N.to_int(a, dt), N.to_int(b, dt), dt), dt)
        if exact_native and dt.is_float:
            return np.asarray(float_fn(a, b)).astype(dt.np_dtype, copy=False)
        return N.from_compute(float_fn(N.to_compute(a, dt), N.to_compute(b, dt)), dt)
    return ev


def complex_multiply(a, b):
    """Complex product as XLA's CPU code computes it: with fused multiply-adds,
    re = fma(a.re, b.re, -(a.im * b.im)), im = fma(a.im, b.re, a.re * b.im).
    For complex<f32> the fma is exact through f64 (products of f32 are exact there); complex<f64>
    uses numpy's product."""
    if a.dtype != np.complex64:
        return a * b
    f = np.float64
    ar, ai = a.real.astype(f), a.imag.astype(f)
    br, bi = b.real.astype(f), b.imag.astype(f)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), np.complex64)
    out.real = ar * br - (ai * bi).astype(np.float32)
    out.imag = ai * br + (ar * bi).astype(np.float32)
    return out


def _ev_multiply(inst, args, _ev):
    dt = _dt(inst)
    if dt.is_complex:
        return complex_multiply(np.asarray(args[0]), np.asarray(args[1]))
    return _ev_multiply_other(inst, args, _ev)


def _int_div(a, b, dt):
    zero = b == 0
    if dt.is_signed:
        ovf = (a == N.int_min(dt)) & (b == -1)
        bad = zero | ovf
        sb = np.where(bad, np.ones_like(b), b)
        q = a // sb
        r = a - q * sb
        q = q + ((r != 0) & ((a < 0) != (sb < 0))).astype(q.dtype)  # floor -> toward zero
        q = np.where(ovf, a, q)
        return np.where(zero, np.full_like(a, -1), q)
    sb = np.where(zero, np.ones_like(b), b)
    return np.where(zero, np.full_like(a, N.int_max(dt)), a // sb)


def _int_rem(a, b, dt):
    zero = b == 0
    if dt.is_signed:
        ovf = (a == N.int_min(dt)) & (b == -1)
        bad = zero | ovf
        sb = np.where(bad, np.ones_like(b), b)
        r = np.fmod(a, sb)
        r = np.where(ovf, np.zeros_like(a), r)
        return np.where(zero, a, r)
    sb = np.where(zero, np.ones_like(b), b)
    return np.where(zero, a, a % sb)


def _int_pow(a, b, dt):
    a = a.astype(np.int64) if dt.is_signed or dt.bits < 64 else a
    b = b.astype(np.int64) if dt.is_signed or dt.bits < 64 else b
    a, b = np.broadcast_arrays(a, b)
    neg = b < 0 if dt.is_signed else np.zeros(b.shape, bool)
    base = a.copy()
    e = np.where(neg, np.where(np.abs(a) == 1, -b, 0), b)
    result = np.where(neg & (np.abs(a) != 1), 0, 1).astype(a.dtype)
    e = e.astype(np.uint64) if e.dtype != np.uint64 else e
    live = e != 0
    while live.any():
        odd = (e & np.uint64(1)) != 0
        result = np.where(odd, result * base, result)
        base = base * base
        e = e >> np.uint64(1)
        live = e != 0
    return result


def _float_pow(a, b):
    return np.power(a, b)


def _float_max(a, b):
    r = np.maximum(a, b)  # propagates NaN
    both0 = (a == 0) & (b == 0)
    if both0.any():
        r = np.where(both0, np.where(np.signbit(a) & np.signbit(b), -0.0, 0.0).astype(r.dtype), r)
    return r


def _float_min(a, b):
    r = np.minimum(a, b)
    both0 = (a == 0) & (b == 0)
    if both0.any():
        r = np.where(both0, np.where(np.signbit(a) | np.signbit(b), -0.0, 0.0).astype(r.dtype), r)
    return r


def _complex_minmax(pick_gt: bool):
    def f(a, b):
        if pick_gt:
            take_a = np.where(a.real == b.real, a.imag > b.imag, a.real > b.real)
        else:
            take_a = np.where(a.real == b.real, a.imag < b.imag, a.real < b.real)
        return np.where(take_a, a, b)
    return f


def minmax_values(a, b, dt, is_max: bool):
    """stablehlo.maximum/minimum on values of dtype dt (NaN propagates; -0 < +0)."""
    if dt.is_pred:
        return (a | b) if is_max else (a & b)
    if dt.is_int:
        ai, bi = N.to_int(a, dt), N.to_int(b, dt)
        return N.wrap_int(np.maximum(ai, bi) if is_max else np.minimum(ai, bi), dt)
    if dt.is_complex:
        return _complex_minmax(is_max)(a, b)
    return np.asarray(_float_max(a, b) if is_max else _float_min(a, b)).astype(dt.np_dtype, copy=False)


def _minmax(is_max: bool):
    def ev(inst, args, _ev):
        return minmax_values(args[0], args[1], _dt(inst), is_max)
    return ev


def _bitwise(fn):
    def ev(inst, args, _ev):
        dt = _dt(inst)
        a, b = args
        if dt.is_pred:
            return fn(a, b)
        return N.wrap_int(fn(N.to_int(a, dt), N.to_int(b, dt)), dt)
    return ev


def _shift(kind: str):
    def ev(inst, args, _ev):
        dt = _dt(inst)
        x = N.to_int(args[0], dt)
        amt = N.to_uint_bits(args[1], dt).astype(np.uint64)  # the amount is read as unsigned
        x, amt = np.broadcast_arrays(x, amt)
        big = amt >= np.uint64(dt.bits)
        a = np.where(big, np.uint64(0), amt)
        if kind == "left":
            u = N.to_uint_bits(x, dt).astype(np.uint64)
            y = np.where(big, np.uint64(0), u << a)
            return N.wrap_int(y, dt)
        if kind == "logical":
            u = N.to_uint_bits(x, dt).astype(np.uint64)
            y = np.where(big, np.uint64(0), u >> a)
            return N.wrap_int(y, dt)
        # arithmetic: shift the sign-extended value
        if dt.is_signed:
            s = x.astype(np.int64)
        else:
            s = N.to_uint_bits(x, dt).astype(np.int64)
            s = np.where(s >= (1 << (dt.bits - 1)), s - (1 << dt.bits), s) if dt.bits < 64 else \
                x.view(np.int64)
        y = np.where(big, np.where(s < 0, -1, 0), s >> a.astype(np.int64))
        return N.wrap_int(y.astype(np.int64), dt)
    return ev


_CMP = {"EQ": np.equal, "NE": np.not_equal, "GE": np.greater_equal, "GT": np.greater,
        "LE": np.less_equal, "LT": np.less}


def compare_values(a, b, dt, direction: str, compare_type: str | None = None):
    fn = _CMP[direction]
    if dt.is_pred:
        return fn(a.astype(np.int8), b.astype(np.int8))
    if dt.is_int:
        return fn(N.to_int(a, dt), N.to_int(b, dt))
    if dt.is_complex:
        ac, bc = N.to_compute(a, dt), N.to_compute(b, dt)
        if direction in ("EQ", "NE"):
            return fn(ac, bc)
        # lexicographic on (real, imag)
        eq_re = ac.real == bc.real
        return np.where(eq_re, fn(ac.imag, bc.imag), fn(ac.real, bc.real))
    if compare_type == "TOTALORDER":
        return fn(N.total_order_key(a, dt), N.total_order_key(b, dt))
    return fn(N.to_compute(a, dt), N.to_compute(b, dt))


def _ev_compare(inst, args, _ev):
    return compare_values(args[0], args[1], _dt(inst), inst.attrs["comparison_direction"],
                          inst.attrs.get("compare_type"))


def _ev_complex(inst, args, _ev):
    return _make_complex(args[0], args[1], _rdt(inst))


def _make_complex(a, b, rdt):
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.shape, rdt.np_dtype)
    out.real = a
    out.imag = b
    return out


def _ev_atan2(inst, args, _ev):
    dt = _dt(inst)
    y, x = (N.to_compute(v, dt) for v in args)
    if dt.is_complex:
        r = -1j * np.log((x + 1j * y) / np.sqrt(x * x + y * y))
        return N.from_compute(r, dt)
    return N.from_compute(np.arctan2(y, x), dt)


def _ev_next_after(inst, args, _ev):
    dt = _dt(inst)
    return S.next_after(args[0], args[1], dt)


def _ev_polygamma(inst, args, _ev):
    dt = _dt(inst)
    n, x = (N.to_compute(v, dt) for v in args)
    return N.from_compute(S.polygamma(n, x), dt)


def _ev_zeta(inst, args, _ev):
    dt = _dt(inst)
    x, q = (N.to_compute(v, dt) for v in args)
    return N.from_compute(S.zeta(x, q), dt)


# ---- ternary -------------------------------------------------------------------------------------
def _ev_clamp(inst, args, _ev):
    lo, x, hi = args
    dt = _dt(inst, 1)
    return np.asarray(minmax_values(np.asarray(minmax_values(x, lo, dt, True)), hi, dt, False))


def _ev_select(inst, args, _ev):
    p, a, b = args
    return np.where(p, a, b).astype(a.dtype, copy=False)


# ---- the table -----------------------------------------------------------------------------------
_ANY = "ipfc"
_NUM = "ifc"
_FC = "fc"

_UNARY = {
    # name: (allowed kinds, evaluate, infer override)
    "abs": ("ifc", _ev_abs, _part_unary),
    "cbrt": (_FC, _float_map(np.cbrt, _cbrt_complex), None),
    "ceil": ("f", _float_map(np.ceil), None),
    "count_leading_zeros": ("i", _ev_clz, None),
    "cosine": (_FC, _float_map(np.cos, np.cos), None),
    "exponential": (_FC, _float_map(np.exp, np.exp), None),
    "exponential_minus_one": (_FC, _float_map(np.expm1, lambda z: np.exp(z) - 1.0), None),
    "floor": ("f", _float_map(np.floor), None),
    "imag": (_FC, _ev_imag, _part_unary),
    "is_finite": ("f", _ev_is_finite, _pred_unary("f")),
    "log": (_FC, _float_map(np.log, np.log), None),
    "log_plus_one": (_FC, _float_map(np.log1p, lambda z: np.log(z + 1.0)), None),
    "logistic": (_FC, _ev_logistic, None),
    "not": ("ip", _ev_not, None),
    "negate": (_NUM, _ev_negate, None),
    "popcnt": ("i", _ev_popcnt, None),
    "real": (_FC, _ev_real, _part_unary),
    "round_nearest_afz": ("f", _float_map(_round_afz), None),
    "round_nearest_even": ("f", _float_map(np.rint), None),
    "rsqrt": (_FC, _float_map(lambda x: 1.0 / np.sqrt(x), lambda z: 1.0 / np.sqrt(z)), None),
    "sign": (_NUM, _ev_sign, None),
    "sine": (_FC, _float_map(np.sin, np.sin), None),
    "sqrt": (_FC, _float_map(np.sqrt, np.sqrt), None),
    "tanh": (_FC, _float_map(np.tanh, np.tanh), None),
    "tan": (_FC, _float_map(np.tan, np.tan), None),
    # chlo
    "acos": (_FC, _float_map(np.arccos, S.complex_acos), None),
    "acosh": (_FC, _float_map(np.arccosh, S.complex_acosh), None),
    "asin": (_FC, _float_map(np.arcsin, S.complex_asin), None),
    "asinh": (_FC, _float_map(np.arcsinh, S.complex_asinh), None),
    "atan": (_FC, _float_map(np.arctan, np.arctan), None),
    "atanh": (_FC, _float_map(np.arctanh, S.complex_atanh), None),
    "bessel_i1e": ("f", _float_map(S.bessel_i1e), None),
    "conj": (_FC, _ev_conj, None),
    "cosh": (_FC, _float_map_dt(S.cosh_chlo, np.cosh), None),
    "digamma": ("f", _float_map(S.digamma), None),
    "erf": ("f", _float_map(S.erf), None),
    "erf_inv": ("f", _float_map(S.erf_inv), None),
    "erfc": ("f", _float_map(S.erfc), None),
    "is_inf": ("f", _ev_is_inf("any"), _pred_unary("f")),
    "is_neg_inf": ("f", _ev_is_inf("neg"), _pred_unary("f")),
    "is_pos_inf": ("f", _ev_is_inf("pos"), _pred_unary("f")),
    "lgamma": ("f", _float_map(S.lgamma), None),
    "sinh": (_FC, _float_map_dt(S.sinh_chlo, np.sinh), None),
    "square": (_NUM, _ev_square, None),
}

_CHLO_UNARY = {"acos", "acosh", "asin", "asinh", "atan", "atanh", "bessel_i1e", "conj", "cosh", "digamma",
               "erf", "erf_inv", "erfc", "is_inf", "is_neg_inf", "is_pos_inf", "lgamma", "sinh", "square"}

for _n, (_k, _ev, _inf) in _UNARY.items():
    if _n in _CHLO_UNARY:
        defop(_n, ELEMENTWISE, 1, dialect="chlo", infer=_inf or _same_unary(_k), evaluate=_ev)
    elif _n == "tan":
        defop("tan", ELEMENTWISE, 1, aliases=("chlo.tan",), infer=_same_unary(_k), evaluate=_ev)
    else:
        defop(_n, ELEMENTWISE, 1, infer=_inf or _same_unary(_k), evaluate=_ev)

defop("convert", ELEMENTWISE, 1, infer=needs_type,
      evaluate=lambda inst, args, _ev: N.convert(args[0], _dt(inst), _rdt(inst)))
defop("reduce_precision", ELEMENTWISE, 1, attrs=("exponent_bits", "mantissa_bits"),
      infer=_reduce_precision_infer, evaluate=_ev_reduce_precision)

_ev_multiply_other = _arith(lambda a, b, dt: a * b, np.multiply, np.logical_and, exact_native=True)

_BINARY = {
    # name: (commutative, allowed kinds, evaluate)
    "add": (True, _ANY, _arith(lambda a, b, dt: a + b, np.add, np.logical_or, exact_native=True)),
    "subtract": (False, _NUM, _arith(lambda a, b, dt: a - b, np.subtract, exact_native=True)),
    "multiply": (True, _ANY, _ev_multiply),
    "divide": (False, _NUM, _arith(_int_div, np.divide, exact_native=True)),
    "remainder": (False, "if", _arith(_int_rem, np.fmod, exact_native=True)),
    "power": (False, _NUM, _arith(_int_pow, _float_pow)),
    "atan2": (False, _FC, _ev_atan2),
    "maximum": (True, _ANY, _minmax(True)),
    "minimum": (True, _ANY, _minmax(False)),
    "and": (True, "ip", _bitwise(np.bitwise_and)),
    "or": (True, "ip", _bitwise(np.bitwise_or)),
    "xor": (True, "ip", _bitwise(np.bitwise_xor)),
    "shift_left": (False, "i", _shift("left")),
    "shift_right_arithmetic": (False, "i", _shift("arithmetic")),
    "shift_right_logical": (False, "i", _shift("logical")),
}
for _n, (_comm, _k, _ev) in _BINARY.items():
    defop(_n, ELEMENTWISE, 2, commutative=_comm, infer=_same_binary(_k), evaluate=_ev)
defop("complex", ELEMENTWISE, 2, infer=_complex_infer, evaluate=_ev_complex)
defop("compare", ELEMENTWISE, 2, attrs=("comparison_direction",), optional_attrs=("compare_type",),
      infer=_compare_infer, evaluate=_ev_compare)

# chlo binary
defop("next_after", ELEMENTWISE, 2, dialect="chlo", infer=_same_binary("f"), evaluate=_ev_next_after)
defop("polygamma", ELEMENTWISE, 2, dialect="chlo", infer=_polygamma_infer, evaluate=_ev_polygamma)
defop("zeta", ELEMENTWISE, 2, dialect="chlo", infer=_same_binary("f"), evaluate=_ev_zeta)

# ternary
defop("clamp", ELEMENTWISE, 3, infer=_clamp_infer, evaluate=_ev_clamp)     # (min, operand, max)
defop("select", ELEMENTWISE, 3, infer=_select_infer, evaluate=_ev_select)  # (pred, on_true, on_false)
