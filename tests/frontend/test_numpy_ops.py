"""xltune.numpy, op by op: each case is one function written against an array namespace `xp`,
run traced and compiled (interpreter, and the cpu backend once it exists), and compared with
the same function run by numpy — and by jax.numpy where jax is installed, dtypes included.
"""
from __future__ import annotations

import numpy as np
import pytest

import xltune
import xltune.numpy as xnp
from xltune.errors import XltuneError

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # jax is optional
    jax = jnp = None

RNG = np.random.default_rng(1234)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def i32(*shape, lo=-5, hi=5):
    return RNG.integers(lo, hi, shape).astype(np.int32)


X = f32(4, 8)
Y = f32(4, 8)
W = f32(8, 3)
V = f32(8)
P = np.abs(f32(4, 8)) + 0.1
I = i32(4, 8)
J = i32(4, 8, lo=1, hi=7)
B3 = f32(2, 4, 8)
MASK = RNG.random((4, 8)) > 0.3

# (id, fn(xp, *args), args)
CASES = [
    # arithmetic, comparisons, broadcasting, Python scalars
    ("add_bcast", lambda xp, x, v: x + v, (X, V)),
    ("sub_rsub", lambda xp, x: (x - 1.5, 2 - x), (X,)),
    ("mul_div", lambda xp, x, y: (x * y, x / (y + 3.0), 1.0 / (xp.abs(x) + 1)), (X, Y)),
    ("floordiv_mod_f", lambda xp, x: (x // 0.3, x % 0.3, xp.floor_divide(x, -0.7), xp.remainder(x, -0.7)), (X,)),
    ("floordiv_mod_i", lambda xp, a, b: (a // b, a % b, a // -2, a % -3, -a), (I, J)),
    ("int_true_divide", lambda xp, a, b: a / b, (I, J)),
    ("pow", lambda xp, x, p: (x ** 2, x ** 3, p ** 0.5, p ** -1, 2.0 ** x, xp.power(p, x), xp.square(x)), (X, P)),
    ("pow_int", lambda xp, a: (a ** 2, a ** 3, xp.power(a, 0)), (I,)),
    ("compare", lambda xp, x, y: (x < y, x <= y, x > y, x >= y, x == y, x != y, x > 0), (X, Y)),
    ("logic", lambda xp, x, y: (xp.logical_and(x > 0, y > 0), xp.logical_or(x > 0, y > 0),
                                xp.logical_not(x > 0), xp.logical_xor(x > 0, y > 0), (x > 0) & (y < 0),
                                (x > 0) | (y < 0), ~(x > 0)), (X, Y)),
    ("bitwise", lambda xp, a, b: (a & b, a | b, a ^ b, ~a, a << 2, a >> 1), (I, J)),
    ("maxmin_clip_where", lambda xp, x, y: (xp.maximum(x, y), xp.minimum(x, 0.1), xp.clip(x, -0.5, 0.5),
                                            xp.clip(x, max=0.2), xp.where(x > y, x, y), xp.where(x > 0, x, 0.0)),
     (X, Y)),
    # math library
    ("exp_log", lambda xp, x, p: (xp.exp(x), xp.log(p), xp.log1p(p), xp.expm1(x), xp.exp2(x), xp.log2(p),
                                  xp.log10(p)), (X, P)),
    ("trig", lambda xp, x: (xp.sin(x), xp.cos(x), xp.tan(x), xp.tanh(x), xp.sinh(x), xp.cosh(x),
                            xp.arctan(x), xp.arctan2(x, 0.5)), (X,)),
    ("sqrt_abs_sign", lambda xp, x, p: (xp.sqrt(p), 1 / xp.sqrt(p), xp.abs(x), xp.sign(x), xp.cbrt(x),
                                        xp.reciprocal(p)), (X, P)),
    ("rounding", lambda xp, x: (xp.floor(x * 3), xp.ceil(x * 3), xp.round(x * 3), xp.rint(x * 3),
                                xp.trunc(x * 3)), (X,)),
    ("nan_inf", lambda xp, x: (xp.isnan(xp.log(x)), xp.isinf(1 / (x * 0)), xp.isfinite(xp.log(x))), (X,)),
    ("int_math", lambda xp, a: (xp.abs(a), xp.sign(a), xp.maximum(a, 0), xp.exp(a * 0.1)), (I,)),
    # reductions
    ("sum_mean", lambda xp, x: (x.sum(), x.sum(0), x.sum(axis=-1, keepdims=True), x.mean(), x.mean(1),
                                xp.mean(x, axis=(0, 1), keepdims=True)), (X,)),
    ("max_min_prod", lambda xp, x: (x.max(), x.max(0), x.min(-1, keepdims=True), xp.max(x, axis=1),
                                    xp.min(x), x.prod(1)), (X,)),
    ("var_std", lambda xp, x: (x.var(), x.var(0), x.std(1), xp.var(x, axis=1, ddof=1), xp.std(x, keepdims=True)),
     (X,)),
    ("argmax_argmin", lambda xp, x: (xp.argmax(x), xp.argmax(x, axis=1), xp.argmin(x, axis=0),
                                     x.argmax(-1), xp.argmin(x, axis=1, keepdims=True)), (X,)),
    ("int_reductions", lambda xp, a: (a.sum(), a.sum(0), a.mean(), a.max(1), a.min(), xp.argmax(a, 0),
                                      (a > 0).sum(), (a > 0).any(), (a > -9).all(1)), (I,)),
    ("cumsum", lambda xp, x, a: (xp.cumsum(x, axis=1), xp.cumsum(x), xp.cumsum(a, axis=0), xp.cumprod(x[:, :3], 1)),
     (X, I)),
    # contractions
    ("matmul", lambda xp, x, w, b3: (x @ w, xp.matmul(x, w), x[0] @ w, x @ w[:, 0], x[0] @ x[1], b3 @ w,
                                     x @ xp.stack([w, w]), b3[:, None] @ xp.stack([w, w, w])), (X, W, B3)),
    ("dot_tensordot", lambda xp, x, w: (xp.dot(x, w), xp.dot(x[0], x[1]), xp.tensordot(x, w, 1),
                                        xp.tensordot(x, x, ((0, 1), (0, 1))), xp.outer(x[0], w[:, 0]),
                                        xp.inner(x, x)), (X, W)),
    ("einsum", lambda xp, x, w, b3: (xp.einsum("ij,jk->ik", x, w), xp.einsum("ij->ji", x), xp.einsum("ij->", x),
                                     xp.einsum("ij,ij->i", x, x), xp.einsum("bij,jk->bik", b3, w),
                                     xp.einsum("bij,bkj->bik", b3, b3), xp.einsum("...j,jk", b3, w),
                                     xp.einsum("ij,kj", x, x)), (X, W, B3)),
    # shapes
    ("reshape_transpose", lambda xp, x, b3: (x.T, x.reshape(2, -1), x.reshape((8, 4)), xp.reshape(x, (-1,)),
                                             xp.transpose(b3, (2, 0, 1)), b3.transpose(1, 0, 2),
                                             xp.swapaxes(b3, 0, 2), xp.moveaxis(b3, 0, -1), x.ravel()),
     (X, B3)),
    ("squeeze_expand_broadcast", lambda xp, x: (xp.expand_dims(x, 0), xp.expand_dims(x, (0, 2)),
                                                xp.squeeze(x.reshape(1, 4, 1, 8)), xp.squeeze(x[None], 0),
                                                xp.broadcast_to(x[:, None, :], (4, 3, 8)),
                                                xp.broadcast_to(x[0], (2, 8))), (X,)),
    ("concat_stack", lambda xp, x, y: (xp.concatenate([x, y], axis=1), xp.concatenate([x, y]),
                                       xp.stack([x, y]), xp.stack([x, y], axis=-1), xp.hstack([x, y]),
                                       xp.vstack([x[0], y[0]]), xp.concatenate([x, y], axis=None)), (X, Y)),
    ("pad_flip_roll", lambda xp, x: (xp.pad(x, ((1, 2), (0, 3))), xp.pad(x, 1, constant_values=1.5),
                                     xp.flip(x, 1), xp.flip(x), xp.roll(x, 2, axis=1), xp.roll(x, -1),
                                     xp.tile(x[0], (2, 1)), xp.repeat(x, 2, axis=0), xp.tril(x), xp.triu(x, 1)),
     (X,)),
    ("split", lambda xp, x: tuple(xp.split(x, 2, axis=1)) + tuple(xp.split(x, [1, 3])), (X,)),
    # indexing
    ("basic_index", lambda xp, x, b3: (x[1], x[:, 2], x[1:3, ::2], x[::-1], x[:, ::-3], x[None, ..., 1],
                                       x[-1, -2], b3[..., 1:], b3[:, None, 2], x[5:1:-2, 1]), (X, B3)),
    ("array_index", lambda xp, x, b3: (x[np.array([0, 2, 3])], x[:, np.array([1, -1])],
                                       x[np.array([[0], [3]]), np.array([1, 2, 5])], x[1, np.array([1, 2])],
                                       b3[np.array([1, 0]), :, np.array([2, 3])], b3[:, np.array([1, 2]), 0],
                                       x[np.array([3, 1])], x[np.array([True, False, True, False])]), (X, B3)),
    ("take", lambda xp, x: (xp.take(x, np.array([3, 0, 1]), axis=1), xp.take(x, np.array([5, 9])),
                            xp.take_along_axis(x, np.argsort(np.arange(32).reshape(4, 8) % 3, axis=1), axis=1)),
     (X,)),
    ("traced_index", lambda xp, x, ix: (x[ix], x[:, ix], x[ix, 1:3], x[ix, ix + 1], xp.take(x, ix, axis=1)),
     (X, np.array([3, 0, 2], np.int32))),
    # sorting
    ("sort", lambda xp, x, a: (xp.sort(x, axis=1), xp.sort(x, axis=0), xp.sort(x, axis=None), xp.argsort(x, axis=1),
                               xp.sort(a), xp.argsort(a, axis=0)), (X, I)),
    # creation
    ("creation", lambda xp, x: (x * 0 + xp.zeros((4, 8)), xp.ones(4, dtype=xp.int32), xp.full((2,), 7.0),
                                xp.arange(5), xp.arange(1, 10, 2), xp.arange(0.5, 3.0, 0.5),
                                xp.linspace(0, 1, 5), xp.linspace(-1, 1, 4, endpoint=False), xp.eye(3),
                                xp.eye(3, 4, 1), xp.ones_like(x), xp.zeros_like(x, dtype=xp.int32),
                                xp.full_like(x, 2), xp.identity(2)), (X,)),
    ("astype", lambda xp, x: (x.astype(xp.int32), (x * 3).astype(xp.int8), x.astype(xp.bool_),
                              (x > 0).astype(xp.float32), x.astype(xp.float16), xp.asarray(x, dtype=xp.int32)),
     (X,)),
    ("constants", lambda xp, x: (x + np.arange(8, dtype=np.float64), x * np.float32(2), x + xp.asarray([1.0] * 8),
                                 xp.asarray([1, 2, 3]) * 2), (X,)),
]


def _available(backend):
    """Skip (saying why) when the backend cannot be built on this machine yet."""
    def compile_or_skip(fn, specs):
        try:
            return xltune.compile(fn, backend=backend, specs=specs)
        except XltuneError as e:
            if "not available" in str(e):
                pytest.skip(f"backend {backend!r} is not available: {e}")
            raise
    return compile_or_skip


@pytest.fixture(params=["interpreter", "cpu"])
def compile_fn(request):
    return _available(request.param)


def _flat(v):
    return list(v) if isinstance(v, (tuple, list)) else [v]


def _close(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        tol = 2e-3 if got.dtype == np.float16 else 2e-5
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol,
                                   err_msg=what)


@pytest.mark.parametrize("name,fn,args", CASES, ids=[c[0] for c in CASES])
def test_matches_numpy(compile_fn, name, fn, args):
    exe = compile_fn(lambda *a: fn(xnp, *a), list(args))
    got = _flat(exe(*args))
    with np.errstate(all="ignore"):
        want = _flat(fn(np, *args))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        _close(g, w, f"{name} output {k}")


@pytest.mark.skipif(jax is None, reason="jax is not installed")
@pytest.mark.parametrize("name,fn,args", CASES, ids=[c[0] for c in CASES])
def test_matches_jax_values_and_dtypes(name, fn, args):
    exe = xltune.compile(lambda *a: fn(xnp, *a), backend="interpreter", specs=list(args))
    got = _flat(exe(*args))
    want = _flat(jax.jit(lambda *a: fn(jnp, *a))(*args))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert g.dtype == w.dtype, f"{name} output {k}: dtype {g.dtype}, jax gives {w.dtype}"
        _close(g, w, f"{name} output {k}")


# ---- xnp.nn and jax-only forms (.at[], dynamic_slice) against jax -------------------------------------------
NN_CASES = [
    ("relu", lambda nn, x: (nn.relu(x), nn.relu6(x * 4))),
    ("gelu", lambda nn, x: (nn.gelu(x), nn.gelu(x, approximate=False))),
    ("sigmoid_silu", lambda nn, x: (nn.sigmoid(x), nn.silu(x), nn.softplus(x), nn.log_sigmoid(x))),
    ("elu_leaky", lambda nn, x: (nn.elu(x), nn.leaky_relu(x), nn.leaky_relu(x, 0.2))),
    ("softmax", lambda nn, x: (nn.softmax(x), nn.softmax(x, axis=0), nn.log_softmax(x), nn.log_softmax(x, axis=0))),
    ("softmax_where", lambda nn, x: (nn.softmax(x, where=MASK), nn.log_softmax(x, axis=0, where=MASK))),
    ("logsumexp", lambda nn, x: (nn.logsumexp(x), nn.logsumexp(x, axis=1), nn.logsumexp(x, axis=0, keepdims=True))),
    ("one_hot", lambda nn, x: (nn.one_hot(xnp_or_jnp(nn).argmax(x, 1), 8), nn.one_hot(xnp_or_jnp(nn).argmax(x, 0), 5,
                                                                                       axis=0))),
]


def xnp_or_jnp(nn):
    return xnp if nn is xnp.nn else jnp


@pytest.mark.skipif(jax is None, reason="jax is not installed")
@pytest.mark.parametrize("name,fn", NN_CASES, ids=[c[0] for c in NN_CASES])
def test_nn_matches_jax(name, fn):
    exe = xltune.compile(lambda x: fn(xnp.nn, x), backend="interpreter", specs=[X])
    got = _flat(exe(X))
    want = _flat(jax.jit(lambda x: fn(jax.nn, x))(X))
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == np.asarray(w).dtype
        _close(g, w, f"{name} output {k}")


def test_layer_norm_and_rms_norm(compile_fn):
    g, b = f32(8), f32(8)
    exe = compile_fn(lambda x, g, b: (xnp.nn.layer_norm(x, g, b), xnp.nn.layer_norm(x, axis=0),
                                      xnp.nn.rms_norm(x, g)), [X, g, b])
    ln, ln0, rms = exe(X, g, b)
    m, v = X.mean(-1, keepdims=True), X.var(-1, keepdims=True)
    _close(ln, (X - m) / np.sqrt(v + 1e-5) * g + b, "layer_norm")
    _close(ln0, (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-5), "layer_norm axis 0")
    _close(rms, X / np.sqrt((X * X).mean(-1, keepdims=True) + 1e-6) * g, "rms_norm")


AT_CASES = [
    ("set_row", lambda xp, x, i: x.at[1].set(0.0)),
    ("add_col", lambda xp, x, i: x.at[:, 2].add(5.0)),
    ("mul_rows", lambda xp, x, i: x.at[np.array([0, 2])].multiply(2.0)),
    ("set_block", lambda xp, x, i: x.at[1:3, 2:5].set(xp.ones((2, 3)))),
    ("traced_index", lambda xp, x, i: x.at[i].add(1.0)),
    ("scatter_add_dups", lambda xp, x, i: x.at[np.array([1, 1, 3]), 0].add(1.0)),
    ("min_max", lambda xp, x, i: (x.at[0].min(0.0), x.at[:, -1].max(0.5))),
    ("out_of_range_dropped", lambda xp, x, i: x.at[i + 10].set(7.0)),
    ("get", lambda xp, x, i: x.at[2, 1:4].get()),
    ("dynamic_slice", lambda xp, x, i: (jax_or_xnp(xp).dynamic_slice(x, (i, 2), (2, 3)),
                                        jax_or_xnp(xp).dynamic_update_slice(x, xp.zeros((1, 4)), (i, i)))),
]


def jax_or_xnp(xp):
    return xnp if xp is xnp else jax.lax


@pytest.mark.skipif(jax is None, reason="jax is not installed")
@pytest.mark.parametrize("name,fn", AT_CASES, ids=[c[0] for c in AT_CASES])
def test_functional_updates_match_jax(compile_fn, name, fn):
    i = np.int32(2)
    exe = compile_fn(lambda x, i: fn(xnp, x, i), [X, i])
    got = _flat(exe(X, i))
    want = _flat(jax.jit(lambda x, i: fn(jnp, x, i))(X, i))
    for k, (g, w) in enumerate(zip(got, want)):
        _close(g, w, f"{name} output {k}")
