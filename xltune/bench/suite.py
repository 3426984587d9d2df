"""Run a benchmark suite side by side in one process: xltune (default and tuned), the
interpreter, and XLA through jax where installed. Ratios measured in one run are the figures
that count; absolute times only mean something on a quiet machine."""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from .. import measure as M
from ..config import Config
from ..errors import XltuneError
from .workloads import Workload
from .xla import XlaProgram, available as xla_available, codegen_compile_seconds


@dataclass
class BenchOptions:
    backend: str = "cpu"
    budget_s: float = 1.0            # measuring time per variant and workload
    interpreter_budget_s: float = 0.5
    tune_trials: int = 0             # 0: no tuning
    tune_timeout_s: float | None = None
    storage: str | None = None       # Optuna storage URL for tuning
    xla: bool = True
    interpreter: bool = True
    rtol: float = 2e-3
    atol: float = 2e-4
    progress: bool = True
    compile_repeats: int = 3         # cold compiles per side (best kept), xltune and XLA in turn
    log: list = field(default_factory=list)


@contextlib.contextmanager
def _fresh_object_cache():
    """Point the object cache at an empty directory (a cold compile), then restore."""
    old = os.environ.get("XLTUNE_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="xltune-cold-") as d:
        os.environ["XLTUNE_CACHE_DIR"] = d
        try:
            yield d
        finally:
            if old is None:
                os.environ.pop("XLTUNE_CACHE_DIR", None)
            else:
                os.environ["XLTUNE_CACHE_DIR"] = old


def max_rel_error(got, want) -> float:
    got = [got] if not isinstance(got, tuple) else list(got)
    want = [want] if not isinstance(want, tuple) else list(want)
    worst = 0.0
    for g, w in zip(got, want):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if g.shape != w.shape:
            return math.inf
        scale = np.maximum(np.abs(w), 1.0)
        err = np.abs(g - w) / scale
        worst = max(worst, float(np.nanmax(err)) if err.size else 0.0)
    return worst


def bench_workload(w: Workload, opts: BenchOptions, copy_bw: float) -> dict:
    import xltune

    row: dict = {"workload": w.name, "size": w.size, "min_bytes": w.min_bytes, "flops": w.flops}
    args = w.inputs()

    # the oracle (and its speed: the baseline a notebook user compares to)
    ref_exe = xltune.compile(w.text, backend="interpreter")
    ref = ref_exe(*args)
    if opts.interpreter:
        row["interp_s"] = M.measure(lambda: ref_exe(*args), budget_s=opts.interpreter_budget_s,
                                    warmup_s=0.0, min_samples=3).median

    # cold compiles (xltune: an empty object cache each time), xltune and XLA in turn, best of
    # `compile_repeats` per side: one compile is a few ms of work that other sessions' load on
    # this shared machine stretched by up to 3x in single samples
    use_xla = opts.xla and xla_available(opts.backend) is None
    cold, warm, xla_cold, xla_llvm, prog = [], [], [], [], None
    for _ in range(max(1, opts.compile_repeats)):
        with _fresh_object_cache():
            t0 = time.perf_counter()
            exe = xltune.compile(w.text, backend=opts.backend, config=Config())
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            exe = xltune.compile(w.text, backend=opts.backend, config=Config())
            warm.append(time.perf_counter() - t0)
        if use_xla:
            prog = XlaProgram(w.text, opts.backend)
            xla_cold.append(prog.compile_seconds)
            xla_llvm.append(codegen_compile_seconds(w.text, opts.backend))
    row["compile_cold_s"] = min(cold)
    row["compile_warm_s"] = min(warm)
    row["kernels"] = exe.stats.get("kernels")
    row["fallback_ops"] = exe.stats.get("fallback_ops", 0)
    row["max_rel_err"] = max_rel_error(exe(*args), ref)
    candidates = {"xltune": lambda: exe(*args)}

    if opts.tune_trials:
        from ..autotune import tune
        res = tune(w.text, backend=opts.backend, trials=opts.tune_trials, timeout=opts.tune_timeout_s,
                   storage=opts.storage, args=args, progress=False)
        tuned = xltune.compile(w.text, backend=opts.backend, config=res.best_config)
        row["tuned_max_rel_err"] = max_rel_error(tuned(*args), ref)
        row["tuned_config"] = res.best_config.to_json()
        row["trials"] = res.n_trials
        row["trials_to_5pct"] = res.trials_to_within(0.05)
        candidates["tuned"] = lambda: tuned(*args)

    if use_xla:
        row["xla_compile_s"] = min(xla_cold)
        llvm_only = [t for t in xla_llvm if t is not None]
        row["xla_codegen_compile_s"] = min(llvm_only) if llvm_only else None
        dev_args = prog.put(args)
        row["xla_max_rel_err"] = max_rel_error(prog(*args), ref)
        candidates["xla"] = lambda: prog.run_device(dev_args)

    # side by side: the candidates alternate (A B C A B C ...), so the drifts of a shared machine
    # hit all of them alike and the ratios hold even when absolute times wander
    pair = M.measure_paired(candidates, budget_s=len(candidates) * opts.budget_s)
    row["xltune_s"], row["xltune_noisy"] = pair["xltune"].median, pair["xltune"].noisy
    if "tuned" in pair:
        row["tuned_s"], row["tuned_noisy"] = pair["tuned"].median, pair["tuned"].noisy
        # the tuner's promise: never slower than the default beyond the noise of this run
        row["tuned_slower_beyond_noise"] = M.faster_beyond_noise(pair["xltune"], pair["tuned"])
    if "xla" in pair:
        row["xla_s"], row["xla_noisy"] = pair["xla"].median, pair["xla"].noisy
        # fastest samples: what each costs when nothing else runs. On this shared 2-core
        # machine, load from other processes stretched XLA's median up to 5x in some runs
        # (gelu 1.0 -> 5.9 ms) while xltune's moved far less; the best-sample ratio is the
        # uncontended race, to read beside the medians.
        row["speedup_vs_xla_best"] = pair["xla"].min / pair["xltune"].min

    # derived figures
    t = row["xltune_s"]
    if w.min_bytes:
        row["GB/s"] = w.min_bytes / t / 1e9
        row["%copy_bw"] = 100.0 * w.min_bytes / t / copy_bw if copy_bw else None
    if w.flops:
        row["GFLOP/s"] = w.flops / t / 1e9
    if "xla_s" in row:
        row["speedup_vs_xla"] = row["xla_s"] / t
        if "tuned_s" in row:
            row["tuned_speedup_vs_xla"] = row["xla_s"] / row["tuned_s"]
    if "interp_s" in row:
        row["speedup_vs_interp"] = row["interp_s"] / t
    if "tuned_s" in row:
        row["tuned_vs_default"] = row["xltune_s"] / row["tuned_s"]
    return row


# Touches what a process pays for once (importing and byte-compiling xltune, loading the threads
# runtime and the GEMM routine; XLA's client and its runtime on the other side) so that the
# first workload's cold compile is a compile like the others'.
_WARMUP = """
func.func @main(%a: tensor<64x64xf32>, %x: tensor<256x512xf32>) -> (tensor<64x64xf32>, tensor<256xf32>) {
  %d = stablehlo.dot_general %a, %a, contracting_dims = [1] x [0] : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  %e = stablehlo.exponential %x : tensor<256x512xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%e init: %z) applies stablehlo.add across dimensions = [1] : (tensor<256x512xf32>, tensor<f32>) -> tensor<256xf32>
  return %d, %s : tensor<64x64xf32>, tensor<256xf32>
}
"""


def warm_up(opts: BenchOptions) -> dict:
    """Pay the once-per-process costs up front; returns how long they took (seconds)."""
    import xltune
    out = {}
    t0 = time.perf_counter()
    exe = xltune.compile(_WARMUP, backend=opts.backend)
    exe(np.ones((64, 64), np.float32), np.ones((256, 512), np.float32))
    out["xltune_first_compile_s"] = time.perf_counter() - t0
    if opts.xla and xla_available(opts.backend) is None:
        t0 = time.perf_counter()
        XlaProgram(_WARMUP, opts.backend)
        out["xla_first_compile_s"] = time.perf_counter() - t0
    return out


def run_suite(workloads: list[Workload], opts: BenchOptions):
    """Benchmark every workload; returns (pandas DataFrame, summary dict)."""
    import pandas as pd

    copy_bw, copy_m = M.copy_bandwidth()
    first = warm_up(opts)
    rows = []
    it = workloads
    if opts.progress:
        from tqdm.auto import tqdm
        it = tqdm(workloads, desc="bench", unit="workload")
    for w in it:
        try:
            rows.append(bench_workload(w, opts, copy_bw))
        except XltuneError as e:
            rows.append({"workload": w.name, "size": w.size, "error": str(e)})
    df = pd.DataFrame(rows)
    summary = {"copy_bw_GBps": copy_bw / 1e9, "copy_bw_noisy": copy_m.noisy, "backend": opts.backend,
               "workloads": len(workloads), **first}
    for col, key in (("speedup_vs_xla", "geomean_speedup_vs_xla"),
                     ("tuned_speedup_vs_xla", "geomean_tuned_speedup_vs_xla"),
                     ("speedup_vs_xla_best", "geomean_speedup_vs_xla_best"),
                     ("speedup_vs_interp", "geomean_speedup_vs_interp"),
                     ("tuned_vs_default", "geomean_tuned_vs_default")):
        if col in df and df[col].notna().any():
            vals = df[col].dropna().astype(float)
            summary[key] = float(np.exp(np.log(vals).mean()))
            summary[key.replace("geomean", "min")] = float(vals.min())
    if "tuned_slower_beyond_noise" in df:
        summary["tuned_slower_beyond_noise"] = int(df["tuned_slower_beyond_noise"].fillna(False).astype(bool).sum())
    if "trials_to_5pct" in df and df["trials_to_5pct"].notna().any():
        summary["max_trials_to_5pct"] = int(df["trials_to_5pct"].dropna().max())
    # cold compile against XLA's: as XLA ships (library fusions on) and through its LLVM emitters
    for col, key in (("xla_compile_s", "cold_compile_vs_xla"),
                     ("xla_codegen_compile_s", "cold_compile_vs_xla_llvm_only")):
        if col in df and "compile_cold_s" in df and df[col].notna().any():
            ratio = (df["compile_cold_s"] / df[col]).dropna().astype(float)
            if len(ratio):
                worst = ratio.idxmax()
                summary[f"max_{key}"] = float(ratio.max())
                summary[f"max_{key}_workload"] = str(df.loc[worst, "workload"])
                summary[f"{key}_within_2x"] = int((ratio <= 2.0).sum())
    return df, summary
