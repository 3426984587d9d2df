"""xltune.autotune: Optuna autotuning of fusion and tiling Knobs — measured, checked against
the interpreter, cached per module and device, distributable over one database.

    res = xltune.autotune.tune(text, backend="cpu", trials=40)
    res.best_config, res.speedup, res.trials, res.study

Importing this package is cheap (`xltune.compile` imports `xltune.autotune.cache` on every
compile): Optuna, SQLAlchemy and pandas load only when tuning starts.
"""
from __future__ import annotations

_LAZY = {
    "tune": ("xltune.autotune.tuner", "tune"),
    "TuningResult": ("xltune.autotune.result", "TuningResult"),
    "lookup_tuned": ("xltune.autotune.cache", "lookup_tuned"),
    "store_tuned": ("xltune.autotune.cache", "store_tuned"),
    "tuned_configs": ("xltune.autotune.cache", "tuned_configs"),
    "forget_tuned": ("xltune.autotune.cache", "forget_tuned"),
    "mask_url": ("xltune.autotune.storage", "mask_url"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'xltune.autotune' has no attribute {name!r}")


__all__ = list(_LAZY)
