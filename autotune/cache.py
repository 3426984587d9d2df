"""Tuned Configs, stored and found again.

A tuned Config is kept per key = (canonical module text, backend, device fingerprint, xltune
version, knob schema token). `lookup_tuned` runs inside every `xltune.compile`, so it must be
cheap: it never runs a pass, never imports Optuna, never creates a database (a missing SQLite
file means "nothing tuned yet"), and memoises the per-process parts of the key.

The knob schema token. The exact knob schema (every knob's name and choices) of a module is
only known after running the pass pipeline, which a lookup must not do. The token is instead a
digest of the source of everything that declares knobs or reads them: `xltune/config.py`,
`xltune/passes/`, `xltune/codegen/` and the backend's own package. It is computed once per
process and backend (reading a few dozen small files). Any change to those files — a knob
added, a choice or a default changed — gives a new token, so a Config tuned under an older
schema is never applied to a newer compiler; an installed release changes them only with its
version anyway. The exact schema digest of the knobs seen while tuning is stored beside the
Config too (`schema_digest`), for listings and checks. $XLTUNE_SCHEMA_TOKEN, when set, is used
as the token instead (developers who edit those files while a study runs, and tests).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

from xltune.config import Config, ConfigError

_FINGERPRINTS: dict[str, str] = {}
_TOKENS: dict[str, str] = {}
_LOCK = threading.Lock()
_warned: set[str] = set()


def _version() -> str:
    import xltune
    return getattr(xltune, "__version__", "0")


def module_digest(module) -> str:
    """sha256 of the module's canonical (printed) text."""
    return hashlib.sha256(str(module).encode()).hexdigest()


def fingerprint(backend) -> str:
    """The backend's device fingerprint, asked once per process."""
    name = backend.name
    fp = _FINGERPRINTS.get(name)
    if fp is None:
        fn = getattr(backend, "fingerprint", None)
        fp = str(fn()) if callable(fn) else name
        _FINGERPRINTS[name] = fp
    return fp


def _source_files(backend) -> list[Path]:
    root = Path(sys.modules["xltune"].__file__).parent
    files = [root / "config.py"]
    dirs = [root / "passes", root / "codegen"]
    mod = sys.modules.get(type(backend).__module__)
    if mod is not None and getattr(mod, "__file__", None):
        f = Path(mod.__file__)
        dirs.append(f.parent if f.name == "__init__.py" else f)
    for d in dirs:
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            files.extend(sorted(d.rglob("*.py")))
    return files


def schema_token(backend) -> str:
    """Digest of the knob-declaring source (see the module docstring); once per process.
    $XLTUNE_SCHEMA_TOKEN pins it (for development: tuning on while those files are edited)."""
    pinned = os.environ.get("XLTUNE_SCHEMA_TOKEN")
    if pinned:
        return pinned
    name = backend.name
    tok = _TOKENS.get(name)
    if tok is None:
        h = hashlib.sha256()
        root = Path(sys.modules["xltune"].__file__).parent
        for f in _source_files(backend):
            try:
                data = f.read_bytes()
            except OSError:
                continue
            h.update(str(f.relative_to(root) if f.is_relative_to(root) else f.name).encode())
            h.update(b"\0")
            h.update(data)
        tok = h.hexdigest()[:32]
        _TOKENS[name] = tok
    return tok


def key_parts(module, backend) -> dict:
    return {"module_digest": module_digest(module), "backend": backend.name,
            "fingerprint": fingerprint(backend), "version": _version(),
            "schema_token": schema_token(backend)}


def key_of(parts: dict) -> str:
    body = json.dumps([parts[k] for k in ("module_digest", "backend", "fingerprint", "version",
                                          "schema_token")])
    return hashlib.sha256(body.encode()).hexdigest()


# ---- lookup (every compile) ---------------------------------------------------------------------

def lookup_tuned(module, backend, storage: str | None = None) -> Config | None:
    """The stored tuned Config for this module on this backend and device, or None.

    storage: a URL (default: $XLTUNE_STORAGE, else the SQLite file in the cache dir). Errors
    (an unreadable database, a stale row) mean "not found": a lookup never breaks a compile.
    """
    if backend.name == "interpreter" or not callable(getattr(backend, "knobs", None)):
        return None  # nothing is ever tuned for it
    from xltune.autotune.storage import resolve_url
    url = resolve_url(storage)
    try:
        parts = key_parts(module, backend)
        row = _read_row(url, key_of(parts))
    except Exception as e:  # noqa: BLE001 - never break a compile over the cache
        _warn_once(url, e)
        return None
    if row is None:
        return None
    try:
        return Config.from_json(row)
    except ConfigError:
        return None


def _read_row(url: str, key: str) -> str | None:
    from xltune.autotune.storage import is_sqlite, sqlite_path
    if is_sqlite(url):
        path = sqlite_path(url)
        if not path or not os.path.exists(path):
            return None  # nothing tuned here yet; and no database gets created by looking
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            try:
                r = con.execute("SELECT config_json FROM xltune_tuned_configs WHERE key = ?",
                                (key,)).fetchone()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return None
                raise
        finally:
            con.close()
        return r[0] if r else None
    import sqlalchemy as sa
    from xltune.autotune.storage import engine_for, tables
    _, tuned, _ = tables()
    try:
        with engine_for(url).connect() as c:
            r = c.execute(sa.select(tuned.c.config_json).where(tuned.c.key == key)).first()
    except sa.exc.ProgrammingError:  # no such table yet
        return None
    return r[0] if r else None


def _warn_once(url, e):
    from xltune.autotune.storage import mask_url, scrub
    masked = mask_url(url)
    if masked in _warned:
        return
    _warned.add(masked)
    import warnings
    warnings.warn(f"xltune: could not read tuned configs from {masked}: "
                  f"{scrub(str(e).splitlines()[0] if str(e) else type(e).__name__, url)}", RuntimeWarning,
                  stacklevel=3)


# ---- store (end of tuning) ----------------------------------------------------------------------

def store_tuned(module, backend, config: Config, *, storage=None, schema_digest: str | None = None,
                default_s: float | None = None, best_s: float | None = None,
                study_name: str | None = None, n_trials: int | None = None) -> str:
    """Store (replace) the tuned Config for module/backend/device; returns the row's key."""
    from xltune.autotune.storage import _retry, engine_for, ensure_tables, resolve_url, tables
    url = resolve_url(storage)
    ensure_tables(url)
    _, tuned, _ = tables()
    parts = key_parts(module, backend)
    key = key_of(parts)
    values = dict(parts, key=key, schema_digest=schema_digest, config_json=Config(config).to_json(),
                  default_s=default_s, best_s=best_s,
                  speedup=(default_s / best_s) if default_s and best_s else None,
                  study_name=study_name, n_trials=n_trials, entry=_entry_signature(module),
                  updated_at=time.time())
    eng = engine_for(url)

    def go():
        with eng.begin() as c:
            r = c.execute(tuned.update().where(tuned.c.key == key).values(**values))
            if r.rowcount == 0:
                c.execute(tuned.insert().values(**values))
        return key
    return _retry(go, url, "storing the tuned config")


def tuned_configs(storage=None):
    """Every stored tuned Config as a pandas DataFrame (newest first)."""
    import pandas as pd
    import sqlalchemy as sa
    from xltune.autotune.storage import engine_for, ensure_tables, resolve_url, sqlite_path, tables
    url = resolve_url(storage)
    _, tuned, _ = tables()
    path = sqlite_path(url)
    if path and not os.path.exists(path):  # nothing tuned here: don't create a database to say so
        return pd.DataFrame([], columns=[c.name for c in tuned.columns])
    ensure_tables(url)
    with engine_for(url).connect() as c:
        rows = c.execute(sa.select(tuned).order_by(tuned.c.updated_at.desc())).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in tuned.columns])


def forget_tuned(module, backend, storage=None) -> bool:
    """Delete the stored tuned Config of module/backend/device; True when there was one."""
    from xltune.autotune.storage import engine_for, ensure_tables, resolve_url, tables
    url = resolve_url(storage)
    ensure_tables(url)
    _, tuned, _ = tables()
    with engine_for(url).begin() as c:
        r = c.execute(tuned.delete().where(tuned.c.key == key_of(key_parts(module, backend))))
    return r.rowcount > 0


def _entry_signature(module) -> str:
    try:
        e = module.entry
        ins = ", ".join(str(p.type) for p in e.params)
        outs = ", ".join(str(o.type) for o in e.outputs)
        return f"({ins}) -> ({outs})"
    except Exception:  # noqa: BLE001 - informational only
        return ""
