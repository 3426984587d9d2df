"""Several `xltune tune` processes on one study: the global trial count is exact, all of them
contribute, no trial is lost (a killed worker's trial is failed through heartbeats), and the
best Config loads back. SQLite here; PostgreSQL in test_autotune_postgres.py."""
from __future__ import annotations

import os
import signal
import time

import optuna
import pytest

import xltune
from xltune.autotune import storage as S

import autotune_fakes as F

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def fake_backend(tmp_path, monkeypatch):
    return F.multi_process_setup(tmp_path, monkeypatch)


def test_three_sqlite_workers_share_one_study(fake_backend, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [F.start_worker(fake_backend, url, "shared", 15, "--budget", "0.2", "--final-budget", "0.3",
                            "--no-isolate")
             for _ in range(3)]
    for rc, so, se in F.finish(procs):
        assert rc == 0, se[-3000:]
        assert "best config:" in so
    study = F.check_shared_study(url, "shared", 15, min_workers=2)
    assert study.trials[0].params.get("fake.width") == 1  # trial 0: the default Config
    # the tuned Config is what a later compile picks up from this storage
    os.environ["XLTUNE_STORAGE"] = url
    try:
        exe = xltune.compile(F.PROGRAM, backend="fake")
    finally:
        del os.environ["XLTUNE_STORAGE"]
    assert exe.stats["config_source"] == "tuned"


def test_a_killed_workers_trial_is_failed_not_lost(fake_backend, tmp_path):
    url = f"sqlite:///{tmp_path / 'dead.db'}"
    study = optuna.create_study(storage=url, study_name="dead")
    study.enqueue_trial({"fake.fault": "hang"})
    # worker A takes the hanging trial (in its own process: --no-isolate) and is killed mid-trial
    a = F.start_worker(fake_backend, url, "dead", 4, "--no-isolate", "--budget", "0.05",
                       env=F.cli_env(XLTUNE_TEST_FAULT="hang:fake.fault=hang", XLTUNE_HEARTBEAT_INTERVAL=1))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if running and running[0].user_attrs.get("config"):
            break
        assert a.poll() is None, a.communicate()[1][-2000:]
        time.sleep(0.2)
    else:
        pytest.fail("worker A never started its trial")
    time.sleep(1.5)  # a heartbeat or two
    os.kill(a.pid, signal.SIGKILL)
    a.communicate()
    time.sleep(2.5)  # longer than worker B's grace period
    b = F.start_worker(fake_backend, url, "dead", 4, "--no-isolate", "--budget", "0.05",
                       env=F.cli_env(XLTUNE_HEARTBEAT_INTERVAL=1, XLTUNE_HEARTBEAT_GRACE=2))
    (rc, so, se), = F.finish([b])
    assert rc == 0, se[-3000:]
    st = optuna.load_study(study_name="dead", storage=url)
    ts = sorted(st.get_trials(deepcopy=False), key=lambda t: t.number)
    assert len(ts) == 4 and S.budget_state(url, "dead") == (4, 4)
    assert ts[0].state.name == "FAIL" and ts[0].params.get("fake.fault") == "hang"
    assert all(t.state.name in ("COMPLETE", "FAIL", "PRUNED") for t in ts)
    from xltune.autotune.tuner import trials_frame
    df = trials_frame(st).set_index("number")
    assert "heartbeats" in df.loc[0, "reason"]
    assert df.loc[0, "worker"] != df.loc[1, "worker"]
