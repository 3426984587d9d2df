"""tune() on a fake backend with known timings: trial 0 is the default, wrong answers fail
their trial with the reason recorded, the winner must beat the default beyond noise, the result
is stored and `xltune.compile` uses it."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xltune
from xltune.autotune import tune
from xltune.autotune.cache import lookup_tuned
from xltune.config import Config

import autotune_fakes as F


@pytest.fixture(autouse=True)
def fake_backend(tmp_path, monkeypatch):
    F.register()
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    monkeypatch.delenv("XLTUNE_NO_TUNED", raising=False)
    return tmp_path


def _tune(**kw):
    kw.setdefault("trials", 14)
    kw.setdefault("budget", 0.05)
    kw.setdefault("final_budget", 0.3)
    kw.setdefault("isolate", False)
    kw.setdefault("progress", False)
    kw.setdefault("seed", 1)
    return tune(F.PROGRAM, backend="fake", **kw)


def test_tune_finds_the_fast_config_and_checks_answers():
    res = _tune(trials=30, sampler="tpe")
    df = res.trials
    assert len(df) == 30 and res.n_trials == 30 and res.ran_here == 30
    # trial 0 is the default Config, every knob at its default
    first = df.sort_values("number").iloc[0]
    assert json.loads(first["config"]) == {"fake.fault": "none", "fake.fixed": 7, "fake.slowbuild": 0, "fake.unroll": 1,
                                           "fake.width": 1, "fake.wrong": False}
    assert first["state"] == "COMPLETE"
    # single-choice knobs are never suggested
    assert not any(c.endswith("fake.fixed") for c in df.columns)
    # wrong answers fail their trial, with the reason
    wrong = df[df["config"].map(lambda c: json.loads(c)["fake.wrong"])]
    assert len(wrong) > 0
    assert (wrong["state"] == "FAIL").all()
    assert wrong["reason"].str.contains("differ from the interpreter").all()
    assert (wrong["status"] == "mismatch").all()
    # the winner is much faster than the default and beat it beyond noise
    assert res.chosen != "default"
    assert res.speedup > 2.0
    assert res.best_config.get("fake.width") in (4, 8) and not res.best_config.get("fake.wrong", False)
    assert res.best_time.median < res.default_time.median
    defaults = {k.name: k.default for k in F.FakeBackend().knobs(None)}
    assert all(defaults[k] != v for k, v in res.best_config.items())  # minimal: defaults left out
    assert "fake.fault" not in res.best_config  # and knobs that don't change the program
    assert any("don't change the program" in n for n in res.notes) or "fake.fault" not in json.loads(
        res.candidates.loc[res.candidates["chosen"], "config"].iloc[0])
    # bench's numbers
    t5 = res.trials_to_within(0.05)
    assert 1 <= t5 <= 30
    assert res.trials_to_within(10.0) == 1
    assert res.study.user_attrs["xltune.best_config"] == res.best_config.to_json()
    assert "speedup" in str(res) and "password" not in repr(res)
    assert "<script" not in res._repr_html_()


def test_pruning_stops_clearly_slower_trials():
    res = _tune(trials=24, sampler="random", seed=3)
    df = res.trials
    pruned = df[df["state"] == "PRUNED"]
    assert len(pruned) > 0, df[["state", "config"]]
    assert pruned["time_s_partial"].notna().all()
    assert res.trials_to_within(0.05) is not None


def test_no_winner_beyond_noise_keeps_the_default(monkeypatch):
    monkeypatch.setattr(F, "WIDTH", {1: 1.0, 2: 1.0, 4: 1.0, 8: 1.0})
    monkeypatch.setattr(F, "UNROLL", {1: 1.0, 2: 1.0, 4: 1.0})
    monkeypatch.setattr(F, "SLOWBUILD_GAIN", 0.0)
    res = _tune(trials=6)
    # all Configs are equally fast: the simpler (default) one stays
    assert res.chosen == "default"
    assert res.best_config == Config()
    assert res.candidates["chosen"].sum() == 1


def test_result_is_stored_and_compile_uses_it(monkeypatch):
    res = _tune(trials=16)
    module = xltune.parse(F.PROGRAM)
    be = xltune.backends.get_backend("fake")
    assert lookup_tuned(module, be) == res.best_config
    exe = xltune.compile(F.PROGRAM, backend="fake")
    assert exe.stats["config_source"] == "tuned"
    assert exe.config == res.best_config
    a = np.arange(64, dtype=np.float32)
    np.testing.assert_allclose(exe(a, a), (a + a) * a)
    assert xltune.compile(F.PROGRAM, backend="fake", config={}).stats["config_source"] == "explicit"
    monkeypatch.setenv("XLTUNE_NO_TUNED", "1")
    assert xltune.compile(F.PROGRAM, backend="fake").stats["config_source"] == "default"


def test_multi_objective_pareto_front():
    res = _tune(trials=16, objectives=("time", "compile"), sampler="random", seed=5)
    assert res.pareto is not None and len(res.pareto) >= 1
    assert {"time_s", "compile_s", "config"} <= set(res.pareto.columns)
    # no Pareto point is dominated by another
    pts = res.pareto[["time_s", "compile_s"]].to_numpy()
    for i, p in enumerate(pts):
        assert not any((q <= p).all() and (q < p).any() for j, q in enumerate(pts) if j != i)
    mem = _tune(trials=8, objectives="time,memory", sampler="random", seed=2, store=False)
    assert "peak_bytes" in mem.pareto.columns


def test_named_study_resumes_up_to_its_total(tmp_path):
    url = f"sqlite:///{tmp_path / 'named.db'}"
    r1 = _tune(trials=5, storage=url, study_name="s1")
    assert r1.n_trials == 5 and r1.ran_here == 5
    r2 = _tune(trials=5, storage=url, study_name="s1")   # the total is already there
    assert r2.n_trials == 5 and r2.ran_here == 0
    r3 = _tune(trials=8, storage=url, study_name="s1")   # raise the total: 3 more
    assert r3.n_trials == 8 and r3.ran_here == 3


def test_a_study_of_another_program_is_refused(tmp_path):
    from xltune.errors import TuningError
    url = f"sqlite:///{tmp_path / 'other.db'}"
    _tune(trials=2, storage=url, study_name="mine")
    other = F.PROGRAM.replace("stablehlo.multiply", "stablehlo.subtract")
    with pytest.raises(TuningError, match="tunes something else"):
        tune(other, backend="fake", trials=2, storage=url, study_name="mine", isolate=False,
             progress=False, budget=0.05)


def test_bad_arguments():
    from xltune.errors import TuningError
    with pytest.raises(TuningError):
        _tune(trials=0)
    with pytest.raises(TuningError, match="objective"):
        _tune(objectives=("memory",))
    with pytest.raises(TuningError, match="nothing to tune"):
        tune(F.PROGRAM, backend="interpreter", trials=2, progress=False)
    with pytest.raises(TuningError, match="sampler"):
        _tune(sampler="simulated-annealing")


def test_callbacks_see_every_trial_in_the_callers_thread():
    import threading
    seen = []
    main = threading.get_ident()

    def cb(study, trial):
        seen.append((trial.number, trial.state.name, threading.get_ident() == main))

    res = _tune(trials=5, callbacks=[cb])
    assert [n for n, _, _ in seen] == list(range(5))
    assert all(in_main for _, _, in_main in seen)
    assert [s for _, s, _ in seen] == list(res.trials.sort_values("number")["state"])


def test_a_winner_must_confirm_in_a_second_paired_round():
    from xltune import measure as M
    from xltune.autotune.tuner import _confirm

    class Runner:
        def __init__(self, default_s, best_s):
            self.times = {"default": default_s, "best": best_s}

        def paired(self, configs, budget, rounds, timeout):
            rng = np.random.default_rng(0)
            return {"samples": {k: list(self.times[k] * (1 + 0.01 * rng.standard_normal(15))) for k in configs},
                    "batch": {k: 1 for k in configs}, "failed": {}}

    def first_round():
        rng = np.random.default_rng(1)
        return {"default": M.Measurement(1e-3 * (1 + 0.01 * rng.standard_normal(15))),
                "trial 5": M.Measurement(0.5e-3 * (1 + 0.01 * rng.standard_normal(15)))}

    ms, notes = first_round(), []
    assert _confirm(Runner(1e-3, 0.5e-3), ms, "trial 5", Config({"fake.width": 4}), 0.1, 10, notes)
    assert ms["default"].n == 30 and ms["trial 5"].n == 30 and notes == []
    ms, notes = first_round(), []  # round two: the "winner" is the slower one now
    assert not _confirm(Runner(1e-3, 1.3e-3), ms, "trial 5", Config({"fake.width": 4}), 0.1, 10, notes)
    assert "did not confirm" in notes[0]
