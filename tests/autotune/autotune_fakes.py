"""A small fake backend for the autotuner's tests: deterministic timings, a known best Config,
a knob that gives wrong answers, one that makes building slow (for Pareto fronts) and one the
fault hook (XLTUNE_TEST_FAULT) can turn into a segfault or a hang.

It computes through the interpreter and then spins for a time set by its knobs:
  fake.width   1 2 4 8     -> x4 x2 x1 x1.5
  fake.unroll  1 2 4       -> x1.5 x1 x1.2     (best: width 4, unroll 2 = BASE_S; default 6x slower)
  fake.wrong   False True  -> True adds 1 to every output (the correctness gate must catch it)
  fake.slowbuild 0 1 2     -> building sleeps 0/20/40 ms, running gets 0/10/20% faster
  fake.fault   none segv hang  (no effect unless XLTUNE_TEST_FAULT names it)
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from xltune.config import Knob

BASE_S = 60e-6
WIDTH = {1: 4.0, 2: 2.0, 4: 1.0, 8: 1.5}
UNROLL = {1: 1.5, 2: 1.0, 4: 1.2}
SLOWBUILD_GAIN = 0.1  # per fake.slowbuild step
BEST = {"fake.width": 4, "fake.unroll": 2}

PROGRAM = """
func.func @main(%a: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<64xf32> {
  %0 = stablehlo.add %a, %b : tensor<64xf32>
  %1 = stablehlo.multiply %0, %a : tensor<64xf32>
  return %1 : tensor<64xf32>
}
"""

HERE = os.path.dirname(os.path.abspath(__file__))


def _spin(seconds: float):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class _Runner:
    def __init__(self, inner, seconds: float, wrong: bool):
        self.inner, self.seconds, self.wrong = inner, seconds, wrong

    def run(self, arrays):
        outs = self.inner.run(arrays)
        _spin(self.seconds)
        if self.wrong:
            outs = [np.asarray(o + 1).astype(o.dtype) for o in outs]
        return outs


class FakeBackend:
    name = "fake"
    runs_passes = False
    default_pipeline = ""

    def knobs(self, module):
        return [
            Knob("fake.width", (1, 2, 4, 8), 1, "vector width", "fake"),
            Knob("fake.unroll", (1, 2, 4), 1, "unroll", "fake"),
            Knob("fake.wrong", (False, True), False, "gives wrong answers", "fake"),
            Knob("fake.slowbuild", (0, 1, 2), 0, "slow build, slightly faster code", "fake"),
            Knob("fake.fault", ("none", "segv", "hang"), "none", "fault-injection marker", "fake"),
            Knob("fake.fixed", (7,), 7, "a knob with one choice is never suggested", "fake"),
        ]

    def build(self, module, config, stages, stats):
        from xltune.backends import get_backend
        width = config.get("fake.width", 1)
        unroll = config.get("fake.unroll", 1)
        slow = config.get("fake.slowbuild", 0)
        if slow:
            time.sleep(0.02 * slow)
        seconds = BASE_S * WIDTH[width] * UNROLL[unroll] * (1 - SLOWBUILD_GAIN * slow)
        inner = get_backend("interpreter").build(module, config, stages, stats)
        stats["kernels"] = 1
        stats["peak_bytes"] = 256 * width
        # the program text shows every choice that changes the program (fake.fault changes
        # nothing unless the fault hook is armed, so simplification leaves it out)
        stages["fake"] = f"width={width} unroll={unroll} slowbuild={slow} wrong={config.get('fake.wrong', False)}"
        return _Runner(inner, seconds, bool(config.get("fake.wrong", False)))

    def fingerprint(self) -> str:
        return "fake-device-1"


def register():
    """Make backend="fake" available in this process (the tuner's worker finds it by path)."""
    from xltune import backends
    backends._BACKENDS["fake"] = "autotune_fakes:FakeBackend"
    if HERE not in sys.path:
        sys.path.insert(0, HERE)


def multi_process_setup(tmp_path, monkeypatch):
    """The fake backend registered, a private cache dir, no storage from the environment and a
    pinned knob schema token (every process of a study must agree on it, even while someone
    edits the passes in this checkout: the token digests their source); returns the program
    file the workers tune."""
    register()
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    monkeypatch.setenv("XLTUNE_SCHEMA_TOKEN", "pinned-for-multi-process-tests")
    prog = tmp_path / "prog.mlir"
    prog.write_text(PROGRAM)
    return prog


def cli_env(**extra) -> dict:
    """Environment for an `xltune tune` subprocess that registers the fake backend."""
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    env.update({k: str(v) for k, v in extra.items()})
    return env


# a `python -c` program: register the fake backend, then run the xltune command line
CLI = ("import sys, autotune_fakes; autotune_fakes.register(); "
       "from xltune.cli import main; sys.exit(main(sys.argv[1:]))")


def start_worker(program_file, storage: str, study: str, trials: int, *extra, env=None, backend="fake"):
    """One `xltune tune` worker process (stdout/stderr captured)."""
    import subprocess
    cmd = [sys.executable, "-c", CLI, "tune", str(program_file), "--backend", backend,
           "--storage", storage, "--study", study, "--trials", str(trials), "--no-progress", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or cli_env())


def finish(procs, timeout=300):
    """Wait for worker processes; [(returncode, stdout, stderr)]."""
    out = []
    for p in procs:
        try:
            so, se = p.communicate(timeout=timeout)
        except Exception:
            p.kill()
            so, se = p.communicate()
        out.append((p.returncode, so, se))
    return out


def check_shared_study(storage: str, study_name: str, trials: int, min_workers: int = 2,
                       program: str = PROGRAM, backend: str = "fake"):
    """The checks of a study tuned by several workers: the global trial count is exact, every
    worker contributed, no trial was lost (none left running or waiting), and the best Config
    loads back from the storage. Returns the study."""
    import optuna
    import xltune
    from xltune.autotune.cache import lookup_tuned
    from xltune.autotune.storage import normalize_url
    from xltune.config import Config
    study = optuna.load_study(study_name=study_name, storage=normalize_url(storage))
    ts = study.get_trials(deepcopy=False)
    assert len(ts) == trials, f"{len(ts)} trials in the study, the cap was {trials}"
    assert sorted(t.number for t in ts) == list(range(trials))
    states = [t.state.name for t in ts]
    assert not {"RUNNING", "WAITING"} & set(states), states
    workers = {t.user_attrs.get("worker") for t in ts} - {None}
    assert len(workers) >= min_workers, workers
    best = Config.from_json(study.user_attrs["xltune.best_config"])
    module = xltune.parse(program)
    be = xltune.backends.get_backend(backend)
    assert lookup_tuned(module, be, storage=storage) == best
    return study
