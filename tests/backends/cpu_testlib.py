"""Helpers for CPU backend tests: small modules built by hand, the interpreter as oracle."""
from __future__ import annotations

import ml_dtypes
import numpy as np

from xltune.backends import get_backend
from xltune.compiler import build
from xltune.config import Config, as_config
from xltune.interpreter import evaluate
from xltune.ir import dtypes as D
from xltune.ir.module import Computation, Module
from xltune.ir.types import TensorType, TupleType


def module_of(build_fn, param_types, name="t") -> Module:
    """build_fn(comp, params) -> output instruction(s)."""
    m = Module(name)
    c = Computation("main")
    ps = [c.add_parameter(t) for t in param_types]
    outs = build_fn(c, ps)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    c.set_outputs(list(outs))
    m.add_function(c)
    return m


def one_op(opcode, operand_types, attrs=None, result_type=None) -> Module:
    return module_of(lambda c, ps: c.add(opcode, ps, result_type, attrs), operand_types, opcode)


def fuse_all(module: Module, kind: str = "loop", name: str = "fusion.all") -> Module:
    """The same program as one fusion instruction (the whole entry becomes its region)."""
    src = module.entry
    region = src.clone(name="fused")
    m = Module(module.name)
    entry = Computation("main")
    ps = [entry.add_parameter(p.type, p.name) for p in src.params]
    multi = len(region.outputs) != 1
    t = TupleType([o.type for o in region.outputs]) if multi else region.outputs[0].type
    f = entry.add("fusion", ps, t, {"kind": kind, "name": name}, regions=[region], multi=multi)
    if multi:
        outs = [entry.add("get_tuple_element", [f], o.type, {"index": i})
                for i, o in enumerate(region.outputs)]
    else:
        outs = [f]
    entry.set_outputs(outs)
    m.add_function(entry)
    return m


def build_cpu(module: Module, config=None):
    """Build for the CPU without running passes (the module is taken as the backend gets it)."""
    be = get_backend("cpu")
    stages, stats = {"hlo": str(module)}, {}
    return build(module.clone(), be, as_config(config) if config is not None else Config(), stages, stats)


def reference(module: Module, *args) -> list:
    return evaluate(module, *args)


# ---- comparisons ------------------------------------------------------------------------------------
def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(a.shape + (-1,)) if a.dtype.itemsize else a


def assert_bitwise(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.dtype.kind in "fc" or got.dtype in (np.dtype(ml_dtypes.bfloat16),):
        g = got.astype(np.complex128 if got.dtype.kind == "c" else np.float64)
        w = want.astype(np.complex128 if want.dtype.kind == "c" else np.float64)
        both_nan = (np.isnan(g) & np.isnan(w)) if g.dtype.kind == "f" else \
            ((np.isnan(g.real) | np.isnan(g.imag)) & (np.isnan(w.real) | np.isnan(w.imag)))
        same = (g == w) & (np.signbit(g.real) == np.signbit(w.real) if g.dtype.kind == "f" else True)
        bad = ~(same | both_nan)
    else:
        bad = got != want
    if bad.any():
        idx = np.argwhere(bad)[:5]
        raise AssertionError(f"{what}: {int(bad.sum())} mismatches, e.g. at {idx.tolist()}: "
                             f"got {got[tuple(idx[0])]!r} want {want[tuple(idx[0])]!r}")


def ulp_error(got, want, dt) -> float:
    """Max distance in units of the last place of dt (NaN must match NaN, inf must match)."""
    g = np.asarray(got).astype(np.float64)
    w = np.asarray(want).astype(np.float64)
    nan_mismatch = np.isnan(g) != np.isnan(w)
    if nan_mismatch.any():
        return float("inf")
    ok = ~np.isnan(w)
    g, w = g[ok], w[ok]
    inf = np.isinf(w) | np.isinf(g)
    if (g[inf] != w[inf]).any():
        return float("inf")
    g, w = g[~inf], w[~inf]
    if g.size == 0:
        return 0.0
    finfo = np.finfo(dt.np_dtype) if dt.np_dtype in (np.float16, np.float32, np.float64) else \
        ml_dtypes.finfo(dt.np_dtype)
    tiny = float(finfo.smallest_subnormal) if hasattr(finfo, "smallest_subnormal") else float(finfo.tiny)
    mant = int(finfo.nmant)
    e = np.floor(np.log2(np.maximum(np.abs(w), float(finfo.tiny))))
    ulp = np.maximum(np.exp2(e - mant), tiny)
    return float(np.max(np.abs(g - w) / ulp))


# ---- values -----------------------------------------------------------------------------------------
def edge_values(dt) -> np.ndarray:
    """Values that tend to break things, of dtype dt."""
    npd = dt.np_dtype
    if dt.is_pred:
        return np.array([False, True], npd)
    if dt.is_int:
        lo, hi = (-(1 << (dt.bits - 1)), (1 << (dt.bits - 1)) - 1) if dt.is_signed else (0, (1 << dt.bits) - 1)
        vals = {lo, hi, 0, 1, lo + 1, hi - 1, min(2, hi), min(3, hi), min(7, hi)}
        if dt.is_signed:
            vals |= {-1, max(-2, lo), max(-3, lo)}
        vals |= {min(dt.bits, hi), min(dt.bits - 1, hi), min(dt.bits + 1, hi)}
        if dt.bits == 64 and not dt.is_signed:
            return np.array(sorted(vals), np.uint64)
        return np.array(sorted(vals), np.int64).astype(npd)
    if dt.is_complex:
        r = edge_values(dt.component)
        r = r[np.isfinite(r.astype(np.float64))][::2]
        return (r[:, None] + 1j * r[None, ::3]).reshape(-1).astype(npd)
    f = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0, -7.25, 1e-3, 100.0, -1e4, np.inf, -np.inf, np.nan,
         0.1, 0.7, 1.5, -2.5, 2.5, 3.5, 10.0, -30.0, 80.0, 89.0, -90.0, 700.0, -800.0]
    fi = np.finfo(npd) if npd in (np.float16, np.float32, np.float64) else ml_dtypes.finfo(npd)
    f += [float(fi.max), -float(fi.max), float(fi.tiny), -float(fi.tiny), float(fi.eps)]
    sub = getattr(fi, "smallest_subnormal", None)
    if sub is not None:
        f += [float(sub), -float(sub) * 3]
    with np.errstate(over="ignore"):
        return np.array(f, np.float64).astype(npd)


def random_values(dt, n, rng) -> np.ndarray:
    npd = dt.np_dtype
    if dt.is_pred:
        return rng.integers(0, 2, n).astype(bool)
    if dt.is_int:
        lo, hi = (-(1 << (dt.bits - 1)), (1 << (dt.bits - 1))) if dt.is_signed else (0, 1 << dt.bits)
        if dt.bits == 64:
            return rng.integers(lo, hi, n, dtype=np.int64 if dt.is_signed else np.uint64)
        return rng.integers(lo, hi, n).astype(npd)
    if dt.is_complex:
        c = dt.component
        return (random_values(c, n, rng).astype(np.float64) + 1j * random_values(c, n, rng)).astype(npd)
    v = rng.standard_normal(n) * np.exp2(rng.integers(-8, 8, n))
    return v.astype(npd)


def tensor(shape, dt) -> TensorType:
    return TensorType(tuple(shape), D.dtype(dt))


# a row softmax: two row reductions and the elementwise work between them (one row kernel)
SOFTMAX = """
func.func @main(%x: tensor<64x300xf32>) -> tensor<64x300xf32> {
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0.0> : tensor<f32>
  %m = stablehlo.reduce(%x init: %ninf) applies stablehlo.maximum across dimensions = [1] : (tensor<64x300xf32>, tensor<f32>) -> tensor<64xf32>
  %mb = stablehlo.broadcast_in_dim %m, dims = [0] : (tensor<64xf32>) -> tensor<64x300xf32>
  %d = stablehlo.subtract %x, %mb : tensor<64x300xf32>
  %e = stablehlo.exponential %d : tensor<64x300xf32>
  %s = stablehlo.reduce(%e init: %zero) applies stablehlo.add across dimensions = [1] : (tensor<64x300xf32>, tensor<f32>) -> tensor<64xf32>
  %sb = stablehlo.broadcast_in_dim %s, dims = [0] : (tensor<64xf32>) -> tensor<64x300xf32>
  %y = stablehlo.divide %e, %sb : tensor<64x300xf32>
  return %y : tensor<64x300xf32>
}
"""
