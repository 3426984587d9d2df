"""jax functions -> Modules: `xltune.from_jax(fn, *example_args)`.

jax lowers the function (`jax.jit(fn).lower(*args).as_text()`, StableHLO text) and
`xltune.parse` reads it, so anything jax can express can go through xltune. jax is optional:
it is imported here, on first use, never by `import xltune`.
"""
from __future__ import annotations

from ..errors import XltuneError
from ..ir.module import Module
from ..ir.types import TensorType


def _jax():
    try:
        import jax
    except ImportError as e:
        raise XltuneError("xltune.from_jax needs jax, which is not installed "
                          f"({e}); install it with: pip install 'xltune[jax]'") from None
    return jax


def _example(jax, a):
    """jax wants arrays or ShapeDtypeStructs; xnp specs and TensorTypes become the latter."""
    from ..numpy._dtypes import ScalarType, TensorSpec
    if isinstance(a, TensorSpec):
        return jax.ShapeDtypeStruct(a.shape, a.dtype)
    if isinstance(a, TensorType):
        return jax.ShapeDtypeStruct(a.shape, a.dtype.np_dtype)
    if isinstance(a, ScalarType):
        return jax.ShapeDtypeStruct((), a.dtype)
    if isinstance(a, (list, tuple)):
        return type(a)(_example(jax, x) for x in a)
    if isinstance(a, dict):
        return {k: _example(jax, v) for k, v in a.items()}
    return a


def lower_to_text(fn, *example_args, static_argnums=(), static_argnames=(), **kwargs) -> str:
    """The StableHLO text jax lowers fn to for these example arguments (arrays or specs)."""
    jax = _jax()
    args = [_example(jax, a) for a in example_args]
    kw = {k: _example(jax, v) for k, v in kwargs.items()}
    try:
        lowered = jax.jit(fn, static_argnums=static_argnums, static_argnames=static_argnames).lower(*args, **kw)
    except Exception as e:
        raise XltuneError(f"jax could not lower {getattr(fn, '__name__', fn)!r}: {type(e).__name__}: {e}") from None
    return lowered.as_text()


def from_jax(fn, *example_args, static_argnums=(), static_argnames=(), **kwargs) -> Module:
    """Lower fn with jax for the example arguments and parse the StableHLO into a Module."""
    text = lower_to_text(fn, *example_args, static_argnums=static_argnums, static_argnames=static_argnames,
                         **kwargs)
    from .stablehlo import parse
    name = getattr(fn, "__name__", "fn")
    return parse(text, source=f"<jax:{name}>")


__all__ = ["from_jax", "lower_to_text"]
