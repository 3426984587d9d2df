"""The tuned-config cache: keyed by module, backend, device, version and knob schema; a lookup
(run by every compile) creates no database, runs no pass and imports no Optuna."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import xltune
from xltune.autotune import cache as C
from xltune.config import Config

import autotune_fakes as F


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    F.register()
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    monkeypatch.delenv("XLTUNE_NO_TUNED", raising=False)
    return tmp_path


def _mb():
    return xltune.parse(F.PROGRAM), xltune.backends.get_backend("fake")


def test_lookup_without_a_database_creates_none(env):
    m, be = _mb()
    db = env / "cache" / "tuning.db"
    assert C.lookup_tuned(m, be) is None
    assert not db.exists()
    exe = xltune.compile(F.PROGRAM, backend="fake")
    assert exe.stats["config_source"] == "default"
    assert not db.exists()


def test_store_lookup_forget(env):
    m, be = _mb()
    cfg = Config({"fake.width": 4})
    key = C.store_tuned(m, be, cfg, default_s=2e-4, best_s=1e-4, study_name="s", n_trials=3)
    assert C.lookup_tuned(m, be) == cfg
    df = C.tuned_configs()
    assert len(df) == 1 and df.loc[0, "key"] == key and df.loc[0, "speedup"] == pytest.approx(2.0)
    assert df.loc[0, "entry"].startswith("(tensor<64xf32>")
    C.store_tuned(m, be, Config({"fake.width": 8}))  # replaces
    assert C.lookup_tuned(m, be) == Config({"fake.width": 8}) and len(C.tuned_configs()) == 1
    other = xltune.parse(F.PROGRAM.replace("multiply", "subtract"))
    assert C.lookup_tuned(other, be) is None
    assert C.forget_tuned(m, be) and C.lookup_tuned(m, be) is None


def test_key_covers_device_version_and_knob_schema(env, monkeypatch):
    m, be = _mb()
    C.store_tuned(m, be, Config({"fake.width": 4}))
    assert C.lookup_tuned(m, be) is not None
    for patch in (lambda: monkeypatch.setitem(C._FINGERPRINTS, "fake", "another-device"),
                  lambda: monkeypatch.setitem(C._TOKENS, "fake", "a-changed-knob-schema"),
                  lambda: monkeypatch.setattr(xltune, "__version__", "999.0")):
        C.lookup_tuned(m, be)  # memoise the real parts first
        patch()
        assert C.lookup_tuned(m, be) is None
        monkeypatch.undo()
        monkeypatch.setenv("XLTUNE_CACHE_DIR", str(env / "cache"))
        monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
        assert C.lookup_tuned(m, be) == Config({"fake.width": 4})


def test_schema_token_follows_the_knob_declaring_source(env):
    _, be = _mb()
    files = [str(p) for p in C._source_files(be)]
    assert any(f.endswith(os.path.join("xltune", "config.py")) for f in files)
    assert any(os.sep + "passes" + os.sep in f for f in files)
    assert any(f.endswith("autotune_fakes.py") for f in files)  # the backend's own module


def test_a_stale_or_odd_row_never_breaks_compile(env):
    import sqlite3
    m, be = _mb()
    C.store_tuned(m, be, Config({"fake.width": 4}))
    db = env / "cache" / "tuning.db"
    con = sqlite3.connect(db)
    con.execute("UPDATE xltune_tuned_configs SET config_json = 'not json'")
    con.commit()
    con.close()
    assert C.lookup_tuned(m, be) is None
    assert xltune.compile(F.PROGRAM, backend="fake").stats["config_source"] == "default"


def test_compile_lookup_stays_light(env, monkeypatch):
    """A compile in a fresh process with a tuned Config stored: it is used, and neither Optuna
    nor the pass pipeline is touched (the fake backend runs no passes; the lookup must not)."""
    monkeypatch.setenv("XLTUNE_SCHEMA_TOKEN", "pinned")  # both processes agree while files change
    m, be = _mb()
    C.store_tuned(m, be, Config({"fake.width": 4}))
    code = (
        "import sys, autotune_fakes as F; F.register(); import xltune\n"
        "import xltune.passes as P\n"
        "def boom(*a, **k): raise AssertionError('a pass ran during lookup')\n"
        "P.run_pipeline = boom; P.pipeline_knobs = boom\n"
        "exe = xltune.compile(F.PROGRAM, backend='fake')\n"
        "print(exe.stats['config_source'], exe.config.to_json(), 'optuna' in sys.modules,\n"
        "      'sqlalchemy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=F.cli_env(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["tuned", '{"fake.width":4}', "False", "False"]


def test_cli_list(env):
    m, be = _mb()
    C.store_tuned(m, be, Config({"fake.width": 4}), default_s=3e-4, best_s=1e-4)
    out = subprocess.run([sys.executable, "-c", F.CLI, "tune", "--list"], env=F.cli_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "tuned configs in sqlite:" in out.stdout and "fake.width" in out.stdout
