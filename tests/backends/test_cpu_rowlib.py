"""The row library's routines (xltune/backends/cpu/rowlib.py), called directly: every element-wise
routine gives the bits of the emitted element-wise kernel of its op (same scalar lowering, same
math knob); fused routines store what the plain routine stores and reduce what numpy reduces;
in-order reductions are exactly a left-to-right fold."""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

from cpu_testlib import assert_bitwise, build_cpu, edge_values, one_op, random_values, tensor
from xltune.backends import get_backend
from xltune.backends.cpu import rowlib
from xltune.ir import dtypes as D

SIZES = (0, 1, 7, 33, 1000)        # below one vector, a vector and a tail, several of each


def _ctype(dtype):
    return ctypes.c_float if dtype == "f32" else ctypes.c_double


def _call(r: rowlib.Routine, *args):
    sig = r.signature()
    P, I = ctypes.c_void_p, ctypes.c_int64
    t = _ctype(r.dtype)

    def ct(ty):
        s = str(ty)
        return P if s == "ptr" else I if s == "i64" else t
    ret = None if str(sig.return_type) == "void" else t
    fn = ctypes.CFUNCTYPE(ret, *[ct(a) for a in sig.args])(rowlib.address(r.name))
    conv = [a.ctypes.data if isinstance(a, np.ndarray) else a for a in args]
    return fn(*conv)


def _data(dtype, n, seed=0):
    dt = D.dtype(dtype)
    rng = np.random.default_rng(seed)
    v = np.concatenate([edge_values(dt), random_values(dt, max(n, 1), rng)])
    return np.ascontiguousarray(rng.permutation(v)[:n])


def _emitted(op, dtype, arrays, libm):
    """The emitted element-wise kernel's result for op over these arrays (same shapes)."""
    m = one_op(op, [tensor(a.shape, dtype) for a in arrays])
    config = {k.name: "libm" if libm else "approx" for k in get_backend("cpu").knobs(m)
              if k.name.endswith(".math")}
    return build_cpu(m, config)(*arrays)


ELEMENTWISE = [r for r in rowlib.routines() if r.form in ("v", "vv", "vs", "sv") and not r.reduce
               and not r.then and r.op != "copy"]


@pytest.mark.parametrize("r", ELEMENTWISE, ids=lambda r: r.name[len(rowlib.PREFIX):])
def test_elementwise_routine_has_the_emitted_kernels_bits(r):
    n = 257
    np_dt = D.dtype(r.dtype).np_dtype
    a, b = _data(r.dtype, n, 1), _data(r.dtype, n, 2)
    s = np_dt.type(_data(r.dtype, 3, 3)[2])
    out = np.empty(n, np_dt)
    if r.form == "v":
        _call(r, out, a, n)
        want = _emitted(r.op, r.dtype, [a], r.libm)
    elif r.form == "vv":
        _call(r, out, a, b, n)
        want = _emitted(r.op, r.dtype, [a, b], False)
    elif r.form == "vs":
        _call(r, out, a, float(s), n)
        want = _emitted(r.op, r.dtype, [a, np.full(n, s, np_dt)], False)
    else:
        _call(r, out, float(s), b, n)
        want = _emitted(r.op, r.dtype, [np.full(n, s, np_dt), b], False)
    assert_bitwise(out, np.asarray(want), r.name)


@pytest.mark.parametrize("dtype", rowlib.DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_copy_fill_and_reductions(dtype, n):
    np_dt = D.dtype(dtype).np_dtype
    a = np.random.default_rng(n).standard_normal(n).astype(np_dt)
    out = np.full(n, 7, np_dt)
    _call(rowlib.Routine(dtype, "copy", "v"), out, a, n)
    np.testing.assert_array_equal(out, a)
    _call(rowlib.Routine(dtype, "copy", "fill"), out, 2.5, n)
    assert (out == 2.5).all()
    start = np_dt.type(0.25)
    # in order: exactly the left-to-right fold in the element type
    folded = start
    for x in a:
        folded = np_dt.type(folded + x)
    assert _call(rowlib.Routine(dtype, "add", "seq"), a, n, float(start)) == folded
    got = _call(rowlib.Routine(dtype, "add", "red"), a, n, float(start))
    np.testing.assert_allclose(got, float(start) + a.astype(np.float64).sum(), rtol=1e-5, atol=1e-5)
    for op, f in (("maximum", np.maximum), ("minimum", np.minimum)):
        want = f.reduce(np.concatenate([[start], a]))
        assert _call(rowlib.Routine(dtype, op, "red"), a, n, float(start)) == want
    m = np.linspace(0.9, 1.1, n).astype(np_dt)
    np.testing.assert_allclose(_call(rowlib.Routine(dtype, "multiply", "red"), m, n, 1.0),
                               np.prod(m.astype(np.float64)), rtol=1e-5)


def test_max_reduction_propagates_nan():
    a = np.arange(100, dtype=np.float32)
    a[37] = np.nan
    assert np.isnan(_call(rowlib.Routine("f32", "maximum", "red"), a, 100, -np.inf))


FUSED = [r for r in rowlib.routines() if r.reduce or r.then]


@pytest.mark.parametrize("r", FUSED, ids=lambda r: r.name[len(rowlib.PREFIX):])
def test_fused_routine_stores_the_plain_result_and_reduces_it(r):
    n = 1000
    np_dt = D.dtype(r.dtype).np_dtype
    rng = np.random.default_rng(len(r.name))
    a = rng.uniform(0.1, 3, n).astype(np_dt)       # in every op's domain (sqrt, log)
    b = rng.uniform(0.5, 2, n).astype(np_dt)
    s = np_dt.type(0.75)
    ins = {"v": [a], "vv": [a, b], "vs": [a, float(s)], "sv": [float(s), b]}[r.form]
    # what the routine computes element-wise, from the plain routines
    plain = np.empty(n, np_dt)
    _call(rowlib.Routine(r.dtype, r.op, r.form, r.libm), plain, *ins, n)
    if r.then:
        _call(rowlib.Routine(r.dtype, r.then, "v"), plain, plain.copy(), n)
    out = np.zeros(n, np_dt)
    if not r.reduce:
        _call(r, out, *ins, n)
        assert_bitwise(out, plain, r.name)
        return
    start = np_dt.type(0.5)
    got = _call(r, out if r.store else None, *ins, n, float(start))
    if r.store:
        assert_bitwise(out, plain, r.name)
    else:
        assert not out.any()
    op, mode = r.reduce
    if op == "maximum":
        assert got == max(start, plain.max())
    elif mode == "seq":
        np.testing.assert_equal(got, _call(rowlib.Routine(r.dtype, "add", "seq"), plain, n, float(start)))
    else:
        np.testing.assert_allclose(got, float(start) + plain.astype(np.float64).sum(), rtol=2e-5)


def test_routine_names_are_unique_and_the_library_has_them_all():
    names = [r.name for r in rowlib.routines()]
    assert len(names) == len(set(names))
    for n in names:
        assert rowlib.address(n)
    with pytest.raises(KeyError, match="no routine"):
        rowlib.address(rowlib.PREFIX + "f32_nothing_v")


def test_library_is_keyed_by_its_sources_and_not_rebuilt_from_the_cache(cache_dir, monkeypatch):
    from xltune.backends.cpu import objcache
    from xltune.backends.cpu.llvm_target import host
    target = host()
    key_text = f"{rowlib._source_key()} {target.vector_bits}"
    built = []

    def make():
        built.append(1)
        return rowlib.library_ir(target.triple, target.vector_bits)
    first = objcache.runtime_object(make, rowlib.SPEED_LEVEL, key_text=key_text)
    again = objcache.runtime_object(make, rowlib.SPEED_LEVEL, key_text=key_text)
    assert built == [1] and again.object_images == first.object_images
