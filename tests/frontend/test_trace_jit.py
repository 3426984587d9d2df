"""@xltune.jit: compile on first call per (shapes, dtypes, static args) signature, cache, inline
when called inside another trace, expose the Executables."""
from __future__ import annotations

import numpy as np
import pytest

import xltune
import xltune.numpy as xnp
from xltune.errors import TraceError
from xltune.executable import Executable

RNG = np.random.default_rng(11)


def arr(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def test_caches_per_shape_and_dtype():
    @xltune.jit(backend="interpreter")
    def f(x, y):
        return x * y + 1.0

    a, b = arr(3), arr(3)
    np.testing.assert_allclose(f(a, b), a * b + 1, rtol=1e-6)
    f(arr(3), arr(3))
    assert f.cache_size() == 1
    f(arr(4), arr(4))
    assert f.cache_size() == 2
    out = f(a.astype(np.float16), b.astype(np.float16))
    assert out.dtype == np.float16 and f.cache_size() == 3
    assert all(isinstance(e, Executable) for e in f.executables)


def test_bare_decorator_and_repr():
    @xltune.jit
    def g(x):
        return x + 1

    assert g.backend == "cpu" and "g" in repr(g)
    assert g.__name__ == "g"


def test_python_scalars_are_weak_dynamic_arguments():
    @xltune.jit(backend="interpreter")
    def scale(x, s):
        return x * s

    x = arr(5)
    out = scale(x, 2.0)
    assert out.dtype == np.float32  # weak float keeps x's dtype
    np.testing.assert_allclose(out, x * 2, rtol=1e-6)
    np.testing.assert_allclose(scale(x, 3.0), x * 3, rtol=1e-6)
    assert scale.cache_size() == 1  # the scalar's value is not part of the signature
    assert scale(np.arange(3, dtype=np.int8), 2).dtype == np.int8


def test_static_arguments():
    @xltune.jit(backend="interpreter", static_argnums=(1,), static_argnames=("mode",))
    def f(x, axis, mode="sum"):
        return x.sum(axis) if mode == "sum" else x.max(axis)

    x = arr(3, 4)
    np.testing.assert_allclose(f(x, 0), x.sum(0), rtol=1e-5)
    np.testing.assert_allclose(f(x, 1), x.sum(1), rtol=1e-5)
    np.testing.assert_allclose(f(x, 1, mode="max"), x.max(1), rtol=1e-6)
    np.testing.assert_allclose(f(x, 1, mode="max"), x.max(1), rtol=1e-6)
    assert f.cache_size() == 3


def test_non_array_arguments_are_static_and_must_be_hashable():
    @xltune.jit(backend="interpreter")
    def f(x, how):
        return x.sum() if how == "sum" else x.mean()

    x = arr(4)
    np.testing.assert_allclose(f(x, "mean"), x.mean(), rtol=1e-6)
    with pytest.raises(TraceError, match="hashable"):
        f(x, {1, 2})


def test_pytrees_in_and_out():
    @xltune.jit(backend="interpreter")
    def step(params, batch):
        pred = batch["x"] @ params["w"] + params["b"]
        loss = ((pred - batch["y"]) ** 2).mean()
        return {"loss": loss, "pred": pred}, (params["w"] * 0.5,)

    params = {"w": arr(3, 2), "b": arr(2)}
    batch = {"x": arr(5, 3), "y": arr(5, 2)}
    out, (half,) = step(params, batch)
    pred = batch["x"] @ params["w"] + params["b"]
    np.testing.assert_allclose(out["pred"], pred, rtol=1e-5)
    np.testing.assert_allclose(out["loss"], ((pred - batch["y"]) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(half, params["w"] * 0.5)


def test_keyword_arguments():
    @xltune.jit(backend="interpreter")
    def f(x, y=None, *, scale=1.0):
        return x * scale if y is None else (x + y) * scale

    x, y = arr(3), arr(3)
    np.testing.assert_allclose(f(x, y=y, scale=2.0), (x + y) * 2, rtol=1e-6)
    np.testing.assert_allclose(f(x), x, rtol=1e-6)


def test_lower_gives_the_executable_with_stages():
    @xltune.jit(backend="interpreter")
    def f(x):
        return xnp.nn.softmax(x)

    x = arr(2, 5)
    exe = f.lower(x)
    assert isinstance(exe, Executable)
    assert "stablehlo.reduce" in exe.stages["hlo"]
    assert f.cache_size() == 1 and f.lower(x) is exe
    np.testing.assert_allclose(exe(x), f(x))
    m = f.trace(x)
    assert m.entry.params[0].type.shape == (2, 5)


def test_jit_inside_a_trace_inlines():
    @xltune.jit(backend="interpreter")
    def inner(x):
        return x * 2.0

    def outer(x: xnp.f32[3]):
        return inner(x) + 1.0

    m = xltune.trace(outer)
    assert [i.opcode for i in m.entry.instructions if i.opcode not in ("parameter", "constant",
                                                                         "broadcast_in_dim")] == \
        ["multiply", "add"]
    assert inner.cache_size() == 0


def test_jit_with_control_flow():
    @xltune.jit(backend="interpreter")
    def power_iteration(a, v):
        def body(i, v):
            w = a @ v
            return w / xnp.sqrt((w * w).sum())
        return xnp.fori_loop(0, 50, body, v)

    m = np.diag(np.array([3.0, 1.0, 0.5], np.float32))
    v = power_iteration(m, np.ones(3, np.float32))
    np.testing.assert_allclose(np.abs(v), [1, 0, 0], atol=1e-4)
