"""Frames and figures have the columns and axes they promise; the HTML report is self-contained."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xltune
from xltune import reports
from xltune.measure import Measurement

PROGRAM = """\
module @addmul {
  func.func public @main(%a: tensor<32x64xf32>, %b: tensor<32x64xf32>) -> tensor<32x64xf32> {
    %s = stablehlo.add %a, %b : tensor<32x64xf32>
    %p = stablehlo.multiply %s, %a : tensor<32x64xf32>
    %q = stablehlo.multiply %s, %a : tensor<32x64xf32>
    %r = stablehlo.add %p, %q : tensor<32x64xf32>
    return %r : tensor<32x64xf32>
  }
}
"""


@pytest.fixture(scope="module")
def exe():
    return xltune.compile(PROGRAM, backend="cpu", use_tuned=False)


def trials(n=8, seed=0):
    """A trials frame shaped like xltune.autotune.tuner.trials_frame's."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        state = "COMPLETE" if i % 4 != 3 else ("PRUNED" if i % 8 == 3 else "FAIL")
        t = float(1e-3 * (1 + rng.random()))
        rows.append({"number": i, "state": state, "time_s": t if state == "COMPLETE" else None,
                     "time_s_partial": 2 * t if state == "PRUNED" else None, "compile_s": 0.1,
                     "status": {"COMPLETE": "ok", "PRUNED": "pruned", "FAIL": "mismatch"}[state],
                     "reason": "out 0 differs" if state == "FAIL" else None, "duration_s": 0.2,
                     "config": "{}"})
    return pd.DataFrame(rows)


def test_stats_frame(exe):
    df = reports.stats_frame(exe)
    assert list(df.columns) == ["stat", "value", "meaning"]
    stats = dict(zip(df["stat"], df["value"]))
    assert stats["ops before passes"] == exe.stats["ops_before"]
    assert stats["kernels"] == exe.stats["kernels"]
    assert stats["compile s"] == exe.stats["compile_seconds"]
    for name in exe.stats["pass_seconds"]:
        assert f"pass {name} s" in stats


def test_passes_frame(exe):
    df = reports.passes_frame(exe)
    assert list(df.columns) == ["pass", "seconds", "changed"]
    assert "fusion" in set(df["pass"]) and (df["seconds"] >= 0).all()


def test_timing_frame_columns_and_rows(exe):
    args = reports.default_args(exe)
    df = reports.timing_frame(exe, args, budget_s=0.02)
    for col in ("implementation", "median_s", "iqr_s", "ci95_low_s", "ci95_high_s", "n", "noisy",
                "compile_s", "max_rel_err", "note", "vs_xltune", "GB/s"):
        assert col in df
    assert list(df["implementation"]) == ["xltune (cpu)", "interpreter", "XLA (jax)"]
    assert (df["median_s"] > 0).all() and (df["max_rel_err"] < 1e-5).all()
    assert df.attrs["min_bytes"] == 3 * 32 * 64 * 4
    np.testing.assert_allclose(df["GB/s"], df.attrs["min_bytes"] / df["median_s"] / 1e9)


def test_timing_frame_notes_missing_jax(exe, monkeypatch):
    import xltune.bench.xla as X
    monkeypatch.setattr(X, "available", lambda platform="cpu": "ModuleNotFoundError: No module named 'jax'")
    df = reports.timing_frame(exe, budget_s=0.02, interpreter=False)
    row = df[df["implementation"] == "XLA (jax)"].iloc[0]
    assert np.isnan(row["median_s"]) and "not available" in row["note"]
    assert "XLA (jax) skipped" in reports.summarize_timing(df)


def test_bandwidth_frame(exe):
    timing = reports.timing_frame(exe, budget_s=0.02, xla=False)
    bw = reports.bandwidth_frame(timing, copy_bw=10e9)
    assert list(bw.columns) == ["implementation", "GB/s", "copy GB/s", "% of copy bandwidth"]
    np.testing.assert_allclose(bw["% of copy bandwidth"], 100 * bw["GB/s"] / 10.0)


def test_tuning_frame_best_so_far():
    df = reports.tuning_frame(trials())
    assert list(df.columns) == ["number", "state", "status", "time_s", "best_so_far_s", "compile_s",
                                "duration_s", "reason", "config"]
    best = df["best_so_far_s"].to_numpy(dtype=float)
    assert np.all(np.diff(best) <= 0)
    done = df[df["state"] == "COMPLETE"]["time_s"].astype(float)
    assert best[-1] == done.min()


def test_tuning_figure_axes():
    fig = reports.tuning_figure(trials(), default_s=1.6e-3)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "trial" and ax.get_ylabel() == "time per call (ms)"
    labels = ax.get_legend_handles_labels()[1]
    for want in ("trial time", "best so far", "pruned (quick reading)", "failed", "default (paired)"):
        assert want in labels
    assert reports.figure_png(fig)[:4] == b"\x89PNG"


def test_tuning_figure_from_a_result():
    from xltune.autotune.result import TuningResult
    from xltune.config import Config
    m = Measurement(np.array([1e-3, 1.1e-3, 1.2e-3, 1e-3, 1e-3]))
    res = TuningResult(best_config=Config(), default_time=m, best_time=m, speedup=1.0, study=None,
                       trials=trials(4))
    fig = reports.tuning_figure(res)
    assert any(l.get_linestyle() == "--" for l in fig.axes[0].get_lines())  # the default's line
    assert "4 trials" in reports.tuning_caption(res)


def bench_df():
    return pd.DataFrame([
        {"workload": "gelu", "size": "cpu", "xltune_s": 1e-3, "tuned_s": 8e-4, "xla_s": 1.2e-3,
         "interp_s": 2e-2, "%copy_bw": 40.0},
        {"workload": "softmax", "size": "cpu", "xltune_s": 2e-3, "tuned_s": 1.5e-3, "xla_s": 1.5e-3,
         "interp_s": 3e-2, "%copy_bw": 25.0},
        {"workload": "broken", "size": "cpu", "error": "boom"},
    ])


def test_bench_figure():
    fig = reports.bench_figure(bench_df())
    ax1, ax2 = fig.axes
    assert "XLA" in ax1.get_xlabel() and "copy bandwidth" in ax2.get_xlabel()
    assert [t.get_text() for t in ax1.get_yticklabels()] == ["gelu (cpu)", "softmax (cpu)"]
    assert len(ax1.patches) == 4 and len(ax2.patches) == 2  # default+tuned per workload; one bar each
    widths = sorted(round(p.get_width(), 3) for p in ax1.patches)
    assert widths == [0.75, 1.0, 1.2, 1.5]


def test_bench_figure_without_xla_uses_the_interpreter():
    df = bench_df().drop(columns=["xla_s"])
    fig = reports.bench_figure(df)
    assert "interpreter" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError):
        reports.bench_figure(pd.DataFrame({"x": [1]}))


def test_timing_figure(exe):
    timing = reports.timing_frame(exe, budget_s=0.02, xla=False)
    fig = reports.timing_figure(timing)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["xltune (cpu)", "interpreter"]
    assert "median time per call" in ax.get_xlabel()


def test_bench_figure_reads_what_the_bench_suite_writes():
    """Rows from the real `xltune bench` code (one tiny workload, tiny budgets), not a mock-up."""
    from xltune.bench.suite import BenchOptions, bench_workload
    from xltune.bench.workloads import load_suite
    (w,) = load_suite(None, only=["tiny_add"])
    opts = BenchOptions(budget_s=0.02, interpreter_budget_s=0.02, progress=False)
    df = pd.DataFrame([bench_workload(w, opts, copy_bw=10e9)])
    fig = reports.bench_figure(df)
    ax1, ax2 = fig.axes
    assert [t.get_text() for t in ax1.get_yticklabels()] == [f"tiny_add ({w.size})" if w.size else "tiny_add"]
    assert len(ax1.patches) == 1 and ax1.patches[0].get_width() > 0
    assert len(ax2.patches) == 1


def test_bench_figure_from_a_bench_json_file(tmp_path):
    import json
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"summary": {"copy_bw_GBps": 12.5, "backend": "cpu"},
                                "rows": json.loads(bench_df().to_json(orient="records"))}))
    fig = reports.bench_figure(path)
    assert "12.5 GB/s" in fig.get_suptitle()
    df, summary = reports.read_bench(path)
    assert len(df) == 3 and summary["backend"] == "cpu"
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(xltune.XltuneError, match="not an `xltune bench --json` file"):
        reports.read_bench(tmp_path / "bad.json")
