"""Backends turn a (pass-pipelined) Module into a Runner.

A backend object provides:
  name: str
  runs_passes: bool                     False only for the interpreter (it runs the unfused module)
  default_pipeline: str                 e.g. "simplify,fusion,buffers"
  knobs(module) -> list[Knob]           its kernel knobs for a module the pipeline has produced
  build(module, config, stages, stats) -> Runner
                                        may add stages ("llvm", "asm"/"ptx") and stats
  fingerprint() -> str                  identifies the device (CPU name + features, GPU model...)
A Runner has run(arrays: list[np.ndarray]) -> list[np.ndarray] (one per entry output, flattened).
"""
from __future__ import annotations

import importlib

from ..errors import XltuneError

_BACKENDS = {
    "interpreter": "xltune.interpreter:InterpreterBackend",
    "cpu": "xltune.backends.cpu:CpuBackend",
    "gpu": "xltune.backends.gpu:GpuBackend",
}
_INSTANCES: dict[str, object] = {}


def get_backend(name: str):
    if name not in _BACKENDS:
        raise XltuneError(f"unknown backend {name!r}; choose one of {', '.join(_BACKENDS)}")
    if name not in _INSTANCES:
        mod, cls = _BACKENDS[name].split(":")
        try:
            factory = getattr(importlib.import_module(mod), cls)
        except (ImportError, AttributeError) as e:
            raise XltuneError(f"backend {name!r} is not available in this installation ({e})") from None
        _INSTANCES[name] = factory()
    return _INSTANCES[name]


def backend_names() -> list[str]:
    return list(_BACKENDS)
