"""Warm compiles without the pass pipeline.

Key: sha256 of (the program's text, backend name and device fingerprint, the resolved Config,
the pipeline spec, xltune's version and a digest of xltune's own source). The entry is what the
passes left: the optimized module's printed text, every stage recorded so far and the stats.
A hit reads the module back (the printed form of a fused module parses to the same module:
tests/ir/test_printer.py), runs the `buffers` pass again when the pipeline ends with it (a
buffer plan is an analysis of the module: cheap, deterministic, and not part of the text), and
hands the module to the backend as a cold compile would. The backend's own caches (the CPU's
plan index and object cache) then skip code generation, so a warm compile costs parsing the
input, this lookup and loading the object.

Two levels: JSON files in `<cache dir>/compiles/`, and a small in-process table of the
optimized modules themselves (a hit clones one: ~0.05 ms instead of parsing), kept per cache
directory so that pointing XLTUNE_CACHE_DIR at an empty one (what `xltune bench` does for a
cold compile) is cold for this cache too. Source edits change the digest, so editing xltune never hits a stale entry.
`XLTUNE_COMPILE_CACHE=0` (or `XLTUNE_OBJECT_CACHE=0`, which asks for full compiles) turns it off;
so does `XLTUNE_VERIFY` (verification runs between the passes).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

from .errors import XltuneError
from .ir.module import Module

MEMO_ENTRIES = 64
_OFF = ("0", "", "false", "no")
_memo: "OrderedDict[tuple[str, str], tuple[Module, dict, str]]" = OrderedDict()
_lock = threading.Lock()


def enabled() -> bool:
    env = os.environ
    return (env.get("XLTUNE_COMPILE_CACHE", "1") not in _OFF and env.get("XLTUNE_OBJECT_CACHE", "1") not in _OFF
            and env.get("XLTUNE_VERIFY", "") in ("", "0"))


@lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 of every Python file of the xltune package (once per process: ~1 MB, a few ms)."""
    from . import __file__ as init_file
    root = Path(init_file).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        try:
            h.update(p.read_bytes())
        except OSError:
            pass
    return h.hexdigest()


def _fingerprint(backend) -> str:
    fn = getattr(backend, "fingerprint", None)
    return str(fn()) if callable(fn) else backend.name


@lru_cache(maxsize=32)
def policy(pipeline: str) -> str | None:
    """How a hit rebuilds what the pipeline leaves beside the module text: "" (nothing),
    "buffers" (the buffer plan: `buffers` is the last pass) or None (no reuse: an earlier
    buffer plan would describe another module)."""
    from .passes.pipeline import Pipeline
    names = [p.name for p in Pipeline.parse(pipeline).leaf_passes()]
    if "buffers" not in names:
        return ""
    return "buffers" if names[-1] == "buffers" and names.count("buffers") == 1 else None


def key_of(text: str, backend, config, pipeline: str) -> str:
    from . import __version__
    h = hashlib.sha256()
    for part in (source_digest(), __version__, backend.name, _fingerprint(backend), config.to_json(), pipeline,
                 os.environ.get("XLTUNE_BLAS", ""), text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _dir() -> Path:
    from .paths import cache_dir
    return cache_dir() / "compiles"


def lookup(key: str, config, rebuild: str) -> tuple[Module, dict, dict] | None:
    """(optimized module, with its buffer plan when rebuild == "buffers", stages, stats) or None."""
    d = _dir()
    mkey = (str(d), key)
    with _lock:
        found = _memo.get(mkey)
        if found is not None:
            _memo.move_to_end(mkey)
    if found is not None:
        module, stages, stats_json = found
        module = module.clone()
    else:
        try:
            rec = json.loads((d / f"{key}.json").read_text())
            text, stages, stats_json = rec["module"], rec["stages"], json.dumps(rec["stats"])
            if not isinstance(text, str) or not isinstance(stages, dict):
                return None
            from .frontend.stablehlo import parse
            module = parse(text, source="<compile cache>")
        except (OSError, ValueError, KeyError, TypeError, XltuneError):
            return None          # no entry, or one we cannot read: compile
        _remember(mkey, module.clone(), stages, stats_json)
    if rebuild == "buffers":
        from .passes import run_pipeline
        run_pipeline(module, "buffers", config, {}, {})
    return module, dict(stages), json.loads(stats_json)


def store(key: str, module: Module, stages: dict, stats: dict) -> None:
    """Keep what the passes left (call before the backend sees the module)."""
    stages = dict(stages.items())
    try:
        stats_json = json.dumps(stats)
    except (TypeError, ValueError):
        return                   # stats the cache cannot hold: no entry
    text = str(module)
    d = _dir()
    _remember((str(d), key), module.clone(), stages, stats_json)
    path = d / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"module": text, "stages": stages, "stats": json.loads(stats_json)}))
        os.replace(tmp, path)
    except OSError:
        pass                     # a read-only or full disk only costs speed


def _remember(key: tuple[str, str], module: Module, stages: dict, stats_json: str) -> None:
    with _lock:
        _memo[key] = (module, stages, stats_json)
        _memo.move_to_end(key)
        while len(_memo) > MEMO_ENTRIES:
            _memo.popitem(last=False)


def clear_memo() -> None:
    with _lock:
        _memo.clear()


__all__ = ["enabled", "key_of", "lookup", "store", "policy", "source_digest", "clear_memo"]
