"""Whole programs through the tracer: MLP, softmax, layernorm, attention, losses, optimizer steps
and loops. Each is written once against a library `L` (L.np, L.nn, L.lax) and run three ways:
traced by xltune and compiled (interpreter; cpu once it exists), by numpy (with plain-Python
loops standing in for lax), and by jax where it is installed.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

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


# ---- numpy stand-ins for nn and lax -------------------------------------------------------------
class _NumpyNN:
    @staticmethod
    def relu(x):
        return np.maximum(x, 0)

    @staticmethod
    def softmax(x, axis=-1):
        e = np.exp(x - x.max(axis, keepdims=True))
        return e / e.sum(axis, keepdims=True)

    @staticmethod
    def log_softmax(x, axis=-1):
        s = x - x.max(axis, keepdims=True)
        return s - np.log(np.exp(s).sum(axis, keepdims=True))

    @staticmethod
    def gelu(x, approximate=True):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    @staticmethod
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    @staticmethod
    def silu(x):
        return x / (1 + np.exp(-x))

    @staticmethod
    def one_hot(x, n, dtype=np.float32):
        return (x[..., None] == np.arange(n)).astype(dtype)

    @staticmethod
    def logsumexp(x, axis=None, keepdims=False):
        m = x.max(axis, keepdims=True)
        out = np.log(np.exp(x - m).sum(axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis)


class _PyLax:
    @staticmethod
    def fori_loop(lo, hi, body, val):
        for i in range(lo, hi):
            val = body(np.int32(i), val)
        return val

    @staticmethod
    def while_loop(cond, body, val):
        while cond(val):
            val = body(val)
        return val

    @staticmethod
    def cond(pred, t, f, *ops):
        return t(*ops) if pred else f(*ops)

    @staticmethod
    def switch(i, branches, *ops):
        return branches[int(np.clip(i, 0, len(branches) - 1))](*ops)


NUMPY = SimpleNamespace(np=np, nn=_NumpyNN, lax=_PyLax)
XNP = SimpleNamespace(np=xnp, nn=xnp.nn, lax=xnp)
JAX = SimpleNamespace(np=jnp, nn=jax.nn, lax=jax.lax) if jax is not None else None


# ---- the programs ------------------------------------------------------------------------------------
def mlp(L, x, w1, b1, w2, b2):
    h = L.nn.relu(x @ w1 + b1)
    return L.nn.gelu(h @ w2 + b2)


def softmax(L, x):
    return L.nn.softmax(x, axis=-1)


def layernorm(L, x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / L.np.sqrt(var + 1e-5) * gamma + beta


def attention(L, q, k, v):
    """Causal multi-head attention: (B, H, S, D) inputs."""
    np_ = L.np
    d = q.shape[-1]
    scores = q @ np_.swapaxes(k, -1, -2) / math.sqrt(d)
    s = q.shape[-2]
    mask = np_.tril(np_.ones((s, s), dtype=np_.float32)) > 0
    scores = np_.where(mask, scores, -1e9)
    return L.nn.softmax(scores, axis=-1) @ v


def attention_einsum(L, x, wq, wk, wv, wo):
    """Self-attention from a (S, E) input with projections, heads split with reshape/einsum."""
    np_ = L.np
    s, e = x.shape
    h = 4
    q = (x @ wq).reshape(s, h, e // h)
    k = (x @ wk).reshape(s, h, e // h)
    v = (x @ wv).reshape(s, h, e // h)
    scores = np_.einsum("qhd,khd->hqk", q, k) / math.sqrt(e // h)
    p = L.nn.softmax(scores, axis=-1)
    out = np_.einsum("hqk,khd->qhd", p, v).reshape(s, e)
    return out @ wo


def cross_entropy(L, logits, labels):
    logp = L.nn.log_softmax(logits, axis=-1)
    picked = L.np.take_along_axis(logp, labels[:, None], axis=1)
    return -picked.mean()


def cross_entropy_onehot(L, logits, labels):
    n = logits.shape[-1]
    lse = L.nn.logsumexp(logits, axis=-1)
    return (lse - (L.nn.one_hot(labels, n) * logits).sum(-1)).mean()


def mse(L, pred, target):
    return ((pred - target) ** 2).mean()


def sgd_step(L, w, grad):
    return w - 0.01 * grad


def sgd_momentum(L, w, grad, buf):
    buf = 0.9 * buf + grad
    return w - 0.05 * buf, buf


def adam_step(L, p, g, m, v, t):
    b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    t = t + 1
    mhat = m / (1 - b1 ** t.astype(L.np.float32))
    vhat = v / (1 - b2 ** t.astype(L.np.float32))
    return p - lr * mhat / (L.np.sqrt(vhat) + eps), m, v, t


def linreg_train(L, x, y, w0):
    """10 steps of gradient descent on least squares, the loop in the graph."""
    n = x.shape[0]

    def step(i, w):
        grad = 2.0 / n * (x.T @ (x @ w - y))
        return w - 0.05 * grad

    return L.lax.fori_loop(0, 10, step, w0)


def fori_accumulate(L, x):
    def body(i, carry):
        acc, prod = carry
        return acc + x[i], prod * (1.0 + 0.1 * x[i])

    return L.lax.fori_loop(0, x.shape[0], body, (L.np.zeros(x.shape[1:], x.dtype), L.np.ones(x.shape[1:], x.dtype)))


def newton_sqrt(L, a):
    """while_loop: Newton iterations for sqrt(a) until converged (or 50 steps)."""
    def cond(c):
        i, x, prev = c
        return L.np.logical_and(i < 50, L.np.max(L.np.abs(x - prev)) > 1e-6)

    def body(c):
        i, x, prev = c
        return i + 1, 0.5 * (x + a / x), x

    _, x, _ = L.lax.while_loop(cond, body, (0, a, a + 1.0))
    return x


def branchy(L, x, k):
    y = L.lax.cond(x.sum() > 0, lambda z: z * 2.0, lambda z: L.np.exp(z), x)
    z = L.lax.switch(k, [lambda u: u + 1.0, lambda u: u * u, lambda u: -u], y)
    return y, z


RNG = np.random.default_rng(7)


def _f32(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


PROGRAMS = [
    ("mlp", mlp, (_f32(16, 32), _f32(32, 64, scale=0.2), _f32(64), _f32(64, 10, scale=0.2), _f32(10)), 1e-4),
    ("softmax", softmax, (_f32(8, 128),), 1e-5),
    ("layernorm", layernorm, (_f32(16, 64), _f32(64), _f32(64)), 1e-4),
    ("attention", attention, (_f32(2, 4, 16, 8), _f32(2, 4, 16, 8), _f32(2, 4, 16, 8)), 1e-4),
    ("attention_einsum", attention_einsum,
     (_f32(16, 32), _f32(32, 32, scale=0.2), _f32(32, 32, scale=0.2), _f32(32, 32, scale=0.2),
      _f32(32, 32, scale=0.2)), 1e-4),
    ("cross_entropy", cross_entropy, (_f32(8, 10), RNG.integers(0, 10, 8).astype(np.int32)), 1e-5),
    ("cross_entropy_onehot", cross_entropy_onehot, (_f32(8, 10), RNG.integers(0, 10, 8).astype(np.int32)), 1e-5),
    ("mse", mse, (_f32(32, 4), _f32(32, 4)), 1e-5),
    ("sgd_step", sgd_step, (_f32(16, 8), _f32(16, 8)), 1e-6),
    ("sgd_momentum", sgd_momentum, (_f32(16, 8), _f32(16, 8), _f32(16, 8)), 1e-6),
    ("adam_step", adam_step, (_f32(16, 8), _f32(16, 8), _f32(16, 8) * 0.1, np.abs(_f32(16, 8)) * 0.01,
                              np.array(3, np.int32)), 1e-5),
    ("linreg_train", linreg_train, (_f32(32, 4), _f32(32), np.zeros(4, np.float32)), 1e-4),
    ("fori_accumulate", fori_accumulate, (_f32(6, 5),), 1e-5),
    ("newton_sqrt", newton_sqrt, (np.abs(_f32(8)) + 0.5,), 1e-5),
    ("branchy", branchy, (_f32(4, 3), np.array(1, np.int32)), 1e-5),
]
IDS = [p[0] for p in PROGRAMS]


def _flat(v):
    return list(v) if isinstance(v, (tuple, list)) else [v]


def _compile(fn, args, backend):
    try:
        return xltune.compile(lambda *a: fn(XNP, *a), backend=backend, specs=list(args))
    except XltuneError as e:
        if "not available" in str(e):
            pytest.skip(f"backend {backend!r} is not available: {e}")
        raise


@pytest.mark.parametrize("backend", ["interpreter", "cpu"])
@pytest.mark.parametrize("name,fn,args,tol", PROGRAMS, ids=IDS)
def test_program_matches_numpy(backend, name, fn, args, tol):
    exe = _compile(fn, args, backend)
    got = _flat(exe(*args))
    want = _flat(fn(NUMPY, *args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w.astype(g.dtype), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.skipif(jax is None, reason="jax is not installed")
@pytest.mark.parametrize("name,fn,args,tol", PROGRAMS, ids=IDS)
def test_program_matches_jax(name, fn, args, tol):
    exe = _compile(fn, args, "interpreter")
    got = _flat(exe(*args))
    want = _flat(jax.jit(lambda *a: fn(JAX, *a))(*args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert (g.shape, g.dtype) == (w.shape, w.dtype), name
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("name,fn,args,tol", PROGRAMS, ids=IDS)
def test_program_round_trips_through_text(name, fn, args, tol):
    module = xltune.trace(lambda *a: fn(XNP, *a), *args)
    text = str(module)
    again = xltune.parse(text)
    assert again.equals(module), f"{name}: parse(str(module)) differs\n{text}"
    assert str(again) == text


def test_training_loop_with_jit_converges():
    """A jitted SGD step called from Python: the loss falls, one compile for all steps."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    true_w = np.array([1.5, -2.0, 0.5], np.float32)
    y = x @ true_w

    @xltune.jit(backend="interpreter")
    def step(w, x, y, lr):
        loss = ((x @ w - y) ** 2).mean()
        grad = 2.0 / x.shape[0] * (x.T @ (x @ w - y))
        return w - lr * grad, loss

    w = np.zeros(3, np.float32)
    losses = []
    for _ in range(60):
        w, loss = step(w, x, y, 0.1)
        losses.append(float(loss))
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(w, true_w, atol=1e-2)
    assert step.cache_size() == 1
