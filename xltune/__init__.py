"""xltune: an XLA-style compiler and autotuner that lives in Jupyter.

    m   = xltune.parse(text)                                  # StableHLO -> Module
    exe = xltune.compile(text_or_module_or_fn, backend="cpu") # or "gpu", "interpreter"
    out = exe(*arrays); exe.stages; exe.config; exe.stats
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, ConfigError, Knob
from .errors import (ArgumentError, CompileError, ExecutionError, ParseError, SourceLoc, TraceError,
                     TuningError, UnsupportedOpError, VerificationError, XltuneError)
from .ir import Module
from .compiler import compile, knobs


def parse(text: str, source: str = "<input>") -> Module:
    """Parse StableHLO MLIR text into a Module (ParseError / UnsupportedOpError on bad input)."""
    from .frontend.stablehlo import parse as _parse
    return _parse(text, source=source)


def __getattr__(name):
    # The tracing front end and the jax bridge load on first use (jax is optional).
    if name in ("trace", "jit"):
        from .frontend import trace as _t
        return getattr(_t, name)
    if name == "from_jax":
        from .frontend.jax_bridge import from_jax
        return from_jax
    if name == "numpy":
        import importlib
        return importlib.import_module(".numpy", __name__)
    raise AttributeError(f"module 'xltune' has no attribute {name!r}")


def load_ipython_extension(ipython):
    from .magics import load_ipython_extension as _load
    _load(ipython)


__all__ = ["parse", "compile", "knobs", "Config", "Knob", "Module", "XltuneError", "ParseError",
           "UnsupportedOpError", "VerificationError", "ArgumentError", "CompileError", "ExecutionError",
           "TuningError", "TraceError", "ConfigError", "SourceLoc", "__version__"]
