"""Type promotion follows jax.numpy (64-bit promotion off): a fixed table, and every pair of
dtypes (and weak Python scalars) against jax itself where it is installed."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import xltune
import xltune.numpy as xnp
from xltune.errors import TraceError
from xltune.numpy import f32

try:
    import jax
    import jax.numpy as jnp
except ImportError:
    jax = jnp = None

DTYPES = ["bool", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float16", "bfloat16", "float32",
          "float64", "int64", "complex64"]
SCALARS = [1, 2.5, True, 1j]


def traced_dtype(fn, *specs):
    return xltune.trace(fn, *specs).entry.outputs[0].type.dtype.np_dtype


TABLE = [
    ("float32", 2.0, "float32"),
    ("float16", 2.0, "float16"),
    ("int32", 2.0, "float32"),
    ("int8", 3, "int8"),
    ("uint8", 3, "uint8"),
    ("bool", 1, "int32"),
    ("bool", 1.0, "float32"),
    ("bfloat16", "float16", "float32"),
    ("uint8", "int8", "int16"),
    ("int32", "float16", "float16"),
    ("int32", "uint32", "int32"),   # jax's 32-bit lattice never makes a 64-bit type
    ("float32", "complex64", "complex64"),
    ("float64", "float32", "float64"),
]


@pytest.mark.parametrize("a,b,want", TABLE)
def test_promotion_table(a, b, want):
    spec = xnp.TensorSpec((3,), a)
    if isinstance(b, str):
        got = traced_dtype(lambda x, y: x + y, spec, xnp.TensorSpec((3,), b))
    else:
        got = traced_dtype(lambda x: x + b, spec)
    assert got == np.dtype(want)


def test_weak_results_stay_weak():
    # int32 * 2.0 is a weak float: adding an f16 array keeps f16, as in jax
    assert traced_dtype(lambda n, h: (n * 2.0) + h, xnp.i32[3], xnp.f16[3]) == np.float16
    assert traced_dtype(lambda h: h + xnp.asarray(2.0), xnp.f16[3]) == np.float16


def test_numpy_values_are_canonicalized_like_jax():
    assert traced_dtype(lambda x: x + np.ones(3), f32[3]) == np.float32       # f64 constant -> f32
    assert traced_dtype(lambda x: x + np.int64(2), xnp.i8[3]) == np.int32     # strong i64 -> i32
    assert traced_dtype(lambda x: x + np.float32(2), xnp.f16[3]) == np.float32  # numpy scalars are strong


def test_default_dtypes():
    assert traced_dtype(lambda x: xnp.arange(3) + 0 * x.astype(xnp.int32), f32[3]) == np.int32
    assert traced_dtype(lambda x: xnp.zeros(3) + x, f32[3]) == np.float32
    assert traced_dtype(lambda x: xnp.sqrt(x), xnp.i32[3]) == np.float32
    assert traced_dtype(lambda x: x.mean(), xnp.i8[3]) == np.float32
    assert traced_dtype(lambda x: x.sum(), xnp.i8[3]) == np.int32
    assert traced_dtype(lambda x: x.sum(), xnp.u8[3]) == np.uint32
    assert traced_dtype(lambda x: x.sum(), xnp.f16[3]) == np.float16
    assert traced_dtype(lambda x: x / 2, xnp.i32[3]) == np.float32


def test_python_int_out_of_range_is_an_error():
    with pytest.raises(TraceError, match="does not fit in i8"):
        xltune.trace(lambda x: x + 1000, xnp.i8[3])


def test_float8_has_no_implicit_promotion():
    with pytest.raises(TraceError, match="no implicit type promotion"):
        xltune.trace(lambda x, y: x + y, xnp.TensorSpec((2,), "f8E4M3FN"), f32[2])


@pytest.mark.skipif(jax is None, reason="jax is not installed")
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype")
@pytest.mark.parametrize("a,b", list(itertools.combinations_with_replacement(DTYPES, 2)))
def test_pairs_match_jax(a, b):
    if jax.config.jax_enable_x64:
        pytest.skip("jax runs with x64 enabled")
    want = jnp.result_type(jnp.zeros(1, a), jnp.zeros(1, b))
    got = xnp.result_type(np.dtype(a) if a != "bfloat16" else xnp.bf16,
                          np.dtype(b) if b != "bfloat16" else xnp.bf16)
    # jax turns 64-bit arrays into 32-bit ones before promoting; xltune keeps explicit f64/i64
    got = {np.dtype("float64"): np.dtype("float32"), np.dtype("int64"): np.dtype("int32"),
           np.dtype("complex128"): np.dtype("complex64")}.get(np.dtype(got), got)
    assert got == want


@pytest.mark.skipif(jax is None, reason="jax is not installed")
@pytest.mark.parametrize("a,s", list(itertools.product(DTYPES, SCALARS)))
def test_weak_scalars_match_jax(a, s):
    if a in ("float64", "int64"):
        pytest.skip("jax canonicalizes 64-bit arrays to 32 bits; xltune keeps an explicit f64/i64 spec")
    got = traced_dtype(lambda x: x * s, xnp.TensorSpec((2,), a))
    want = (jnp.zeros(2, a) * s).dtype
    assert got == want, (a, s)
