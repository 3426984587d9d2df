"""Warm compiles without code generation: which cached object a (fused module, config) builds.

The object cache is keyed by the LLVM IR text, so finding an object there means emitting the IR
first (a third of a warm compile). This index skips that: its key is everything the emitter reads
-- the fused module's text, its buffer plan, the knob values (explicit and resolved defaults),
the host target, `XLTUNE_BLAS`, and the source of
the code generator itself (so editing xltune never hits a stale entry) -- and its entry names
the object, the exported segments and the kernels that emission demoted to fallbacks.

Entries are small JSON files next to the objects (`<cache dir>/objects/<key>.plan.json`),
written atomically; `XLTUNE_OBJECT_CACHE=0` turns this off with the object cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from . import objcache

SUFFIX = ".plan.json"


@lru_cache(maxsize=1)
def code_identity() -> str:
    """A digest of the code generator's source (xltune/codegen and the CPU backend)."""
    from ... import __version__
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for d in (here.parent.parent / "codegen", here):
        for p in sorted(d.glob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def plan_key(module, config, target, knobs) -> str:
    """knobs: the kernel knobs of the module; their resolved values go in the key (a default may
    depend on the machine, e.g. the number of cores)."""
    values = sorted(dict(config).items()) + [(k.name, config.value(k)) for k in knobs]
    h = hashlib.sha256()
    for part in (code_identity(), target.cache_identity, str(module), str(getattr(module, "buffer_plan", None)),
                 json.dumps(values, default=str), os.environ.get("XLTUNE_BLAS", "")):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _path(key: str) -> Path:
    return objcache.object_cache().directory / f"{key}{SUFFIX}"


def lookup(key: str) -> dict | None:
    """{"object": IR cache key, "segments": [...], "demoted": [[step index, reason], ...]} or None."""
    if not objcache.enabled():
        return None
    try:
        rec = json.loads(_path(key).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or not {"object", "segments", "demoted"} <= set(rec):
        return None
    return rec


def store(key: str, record: dict) -> None:
    if not objcache.enabled():
        return
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        os.replace(tmp, path)
    except OSError:
        pass     # a read-only or full disk only costs speed


__all__ = ["plan_key", "lookup", "store", "code_identity"]
