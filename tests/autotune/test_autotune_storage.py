"""Storage URLs, password masking, our tables, and the global trial cap."""
from __future__ import annotations

import multiprocessing as mp

import pytest

from xltune.autotune import storage as S


def test_mask_url_hides_password():
    url = "postgresql://tuner:s3cr3t-pw@db.example:5432/xl"
    masked = S.mask_url(url)
    assert "s3cr3t-pw" not in masked and "tuner" in masked and "db.example" in masked
    assert S.scrub(f"could not connect to {url}: password s3cr3t-pw rejected", url).count("s3cr3t-pw") == 0
    assert S.mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert S.mask_url("not a url at all") == "<storage URL>"


def test_sqlite_path_and_default_url(tmp_path, monkeypatch):
    assert S.sqlite_path("sqlite:////abs/t.db") == "/abs/t.db"
    assert S.sqlite_path("sqlite:///rel.db") == "rel.db"
    assert S.sqlite_path("sqlite://") is None
    assert S.sqlite_path("postgresql://u@h/d") is None
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    assert S.resolve_url(None) == f"sqlite:///{tmp_path / 'tuning.db'}"
    monkeypatch.setenv("XLTUNE_STORAGE", "sqlite:////elsewhere.db")
    assert S.resolve_url(None) == "sqlite:////elsewhere.db"
    assert S.resolve_url("sqlite:////given.db") == "sqlite:////given.db"


def test_bare_postgresql_url_gets_an_installed_driver():
    import importlib.util
    url = S.normalize_url("postgres://u:p@127.0.0.1/d")
    assert url.startswith("postgresql")
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        assert url.startswith("postgresql+psycopg2://")


def test_budget_cap_and_claims(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert S.ensure_budget(url, "s", 3) is True
    assert S.ensure_budget(url, "s", 2) is False       # a smaller cap never shrinks it
    assert [S.claim_trial(url, "s") for _ in range(5)] == [True, True, True, False, False]
    assert S.budget_state(url, "s") == (3, 3)
    assert S.ensure_budget(url, "s", 5) is False       # a larger one raises it: resume
    assert [S.claim_trial(url, "s") for _ in range(3)] == [True, True, False]
    assert S.budget_state(url, "other") is None
    assert S.claim_trial(url, "other") is False


def _claimer(url, n_out):
    import xltune.autotune.storage as S2
    got = 0
    while S2.claim_trial(url, "race"):
        got += 1
    n_out.put(got)


def test_claims_are_exact_across_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    S.ensure_budget(url, "race", 60)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(url, q)) for _ in range(4)]
    for p in procs:
        p.start()
    counts = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(counts) == 60, counts
    assert S.budget_state(url, "race") == (60, 60)


def test_errors_never_show_the_password():
    from xltune.errors import TuningError
    url = "postgresql://tuner:hunter2-secret@127.0.0.1:1/nodb"
    with pytest.raises(TuningError) as ei:
        S.ensure_budget(url, "s", 3)
    assert "hunter2-secret" not in str(ei.value)
    assert "127.0.0.1" in str(ei.value)


def test_other_workers_wait_for_the_creator_to_prepare(tmp_path):
    """Trial 0 must be the default: nobody claims a slot before the study's creator has queued it."""
    import threading
    import time
    url = f"sqlite:///{tmp_path / 'prep.db'}"
    events = []

    def prepare():
        time.sleep(1.0)
        events.append(("prepared", time.monotonic()))

    a = threading.Thread(target=lambda: events.append(("a", S.ensure_budget(url, "p", 4, prepare=prepare))))
    a.start()
    time.sleep(0.3)
    assert S.ensure_budget(url, "p", 4) is False  # waits for the row to be ready
    events.append(("b-ready", time.monotonic()))
    assert S.claim_trial(url, "p")
    a.join()
    kinds = [e[0] for e in events]
    assert kinds.index("prepared") < kinds.index("b-ready")
    assert ("a", True) in events
