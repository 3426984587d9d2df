"""xltune.from_jax: jax lowers, xltune.parse reads the StableHLO; jax stays optional."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xltune
import xltune.numpy as xnp
from xltune.errors import XltuneError
from xltune.ir.module import Module

RNG = np.random.default_rng(5)


def test_importing_xltune_never_imports_jax():
    code = textwrap.dedent("""
        import sys
        import xltune, xltune.numpy as xnp
        m = xltune.trace(lambda x: xnp.nn.softmax(x), xnp.f32[2, 3])
        xltune.compile(m, backend="interpreter")
        assert "jax" not in sys.modules, sorted(k for k in sys.modules if k.startswith("jax"))
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_jax_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # makes `import jax` raise ImportError
    with pytest.raises(XltuneError, match="needs jax.*pip install"):
        xltune.from_jax(lambda x: x, np.zeros(2, np.float32))


try:
    import jax
    import jax.numpy as jnp
except ImportError:  # jax is optional: the tests above still run
    jax = jnp = None

needs_jax = pytest.mark.skipif(jax is None, reason="jax is not installed")


@needs_jax
def test_from_jax_runs_through_xltune():
    def f(x, w):
        return jax.nn.gelu(x @ w).sum(-1), jnp.sort(x, axis=0)

    x, w = RNG.standard_normal((8, 16), np.float32), RNG.standard_normal((16, 4), np.float32)
    module = xltune.from_jax(f, x, w)
    assert isinstance(module, Module)
    got = xltune.compile(module, backend="interpreter")(x, w)
    want = jax.jit(f)(x, w)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-5, atol=1e-5)


@needs_jax
def test_from_jax_takes_specs():
    module = xltune.from_jax(lambda a, b: a * b + 1, xnp.f32[3, 4], jax.ShapeDtypeStruct((4,), np.float32))
    assert [str(p.type) for p in module.entry.params] == ["tensor<3x4xf32>", "tensor<4xf32>"]


@needs_jax
def test_from_jax_static_args_and_control_flow():
    def f(x, n):
        return jax.lax.fori_loop(0, n, lambda i, c: c * 0.5 + 1.0, x)

    x = RNG.standard_normal(5).astype(np.float32)
    module = xltune.from_jax(f, x, 7, static_argnums=(1,))
    got = xltune.compile(module, backend="interpreter")(x)
    np.testing.assert_allclose(got, np.asarray(jax.jit(f, static_argnums=1)(x, 7)), rtol=1e-6)


@needs_jax
def test_jax_lowering_failure_is_an_xltune_error():
    with pytest.raises(XltuneError, match="jax could not lower"):
        xltune.from_jax(lambda x: x @ x, np.zeros((2, 3), np.float32))


def attention(np_, nn, q, k, v):
    s = q @ np_.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]).astype(np.float32)
    return nn.softmax(s, axis=-1) @ v


@needs_jax
def test_same_function_traced_and_from_jax_agree():
    """One function, written once: traced by xltune.numpy and lowered by jax, both run by xltune."""
    q, k, v = (RNG.standard_normal((2, 8, 4), np.float32) for _ in range(3))
    traced = xltune.trace(lambda a, b, c: attention(xnp, xnp.nn, a, b, c), q, k, v)
    lowered = xltune.from_jax(lambda a, b, c: attention(jnp, jax.nn, a, b, c), q, k, v)
    out_traced = xltune.compile(traced, backend="interpreter")(q, k, v)
    out_jax = xltune.compile(lowered, backend="interpreter")(q, k, v)
    np.testing.assert_allclose(out_traced, out_jax, rtol=1e-5, atol=1e-6)
    # the two modules are the same kind of program: same ops, modulo constant/broadcast bookkeeping
    core = {"dot_general", "reduce", "exponential", "divide", "subtract", "transpose"}

    def opset(m):
        return {i.opcode for i in m.entry.walk()} & core

    assert opset(traced) == opset(lowered)
