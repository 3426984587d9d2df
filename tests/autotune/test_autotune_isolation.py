"""Isolation: a segfaulting or hanging trial fails alone; the caller (a notebook kernel, here
pytest) survives and the study goes on. One worker serves many trials; it is restarted only
after a crash or a timeout."""
from __future__ import annotations

import os

import optuna
import pytest

from xltune.autotune import tune

import autotune_fakes as F


@pytest.fixture(autouse=True)
def fake_backend(tmp_path, monkeypatch):
    F.register()
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    return tmp_path


def test_segfault_and_hang_fail_their_trials_only(tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_TEST_FAULT", "segv:fake.fault=segv;hang:fake.fault=hang")
    url = f"sqlite:///{tmp_path / 'iso.db'}"
    # queue the two bad Configs first (the tuner then queues the default after them)
    study = optuna.create_study(storage=url, study_name="iso")
    study.enqueue_trial({"fake.fault": "segv", "fake.wrong": False})
    study.enqueue_trial({"fake.fault": "hang", "fake.wrong": False})
    res = tune(F.PROGRAM, backend="fake", trials=5, storage=url, study_name="iso", isolate=True,
               trial_timeout=5, budget=0.05, final_budget=0.3, progress=False, sampler="random",
               seed=11)
    df = res.trials.sort_values("number").set_index("number")
    assert len(df) == 5
    assert df.loc[0, "state"] == "FAIL" and df.loc[0, "status"] == "crash"
    assert "SIGSEGV" in df.loc[0, "reason"]
    assert df.loc[1, "state"] == "FAIL" and df.loc[1, "status"] == "timeout"
    assert "no result within 5 s" in df.loc[1, "reason"]
    # the study went on: the default (queued third) and later trials ran in fresh workers
    assert df.loc[2, "state"] == "COMPLETE"
    assert res.worker_starts >= 3
    pids = df["pid"].dropna().astype(int)
    assert os.getpid() not in set(pids)
    assert res.best_time is not None and res.best_config.get("fake.fault", "none") == "none"


def test_one_worker_serves_every_trial():
    res = tune(F.PROGRAM, backend="fake", trials=6, isolate=True, budget=0.05, final_budget=0.3,
               progress=False, seed=4)
    pids = set(res.trials["pid"].dropna().astype(int))
    assert len(pids) == 1 and os.getpid() not in pids
    assert res.worker_starts == 1


def test_in_process_failures_are_recorded(monkeypatch):
    monkeypatch.setenv("XLTUNE_TEST_FAULT", "raise:fake.unroll=4")
    res = tune(F.PROGRAM, backend="fake", trials=12, isolate=False, budget=0.05, final_budget=0.3,
               progress=False, sampler="random", seed=7)
    df = res.trials
    raised = df[df["reason"].fillna("").str.contains("injected failure")]
    assert len(raised) > 0 and (raised["state"] == "FAIL").all()
    assert (raised["status"] == "error").all()
    assert set(df["pid"].dropna().astype(int)) == {os.getpid()}
