"""Where xltune keeps things between runs. `XLTUNE_CACHE_DIR` overrides the default."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root, read from the environment on every call (tests and `bench` switch it)."""
    env = os.environ.get("XLTUNE_CACHE_DIR")
    if env:
        p = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        p = Path(base) / "xltune"
    p.mkdir(parents=True, exist_ok=True)
    return p


def default_storage_url() -> str:
    """The embedded SQLite database for tuning studies and tuned Configs."""
    return f"sqlite:///{cache_dir() / 'tuning.db'}"
