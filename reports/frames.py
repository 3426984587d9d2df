"""DataFrames from a compiled program and from measurements.

All timing goes through `xltune.measure` (the code `xltune bench` and the autotuner use), so a
number in a notebook means the same as the same number anywhere else.
"""
from __future__ import annotations

import functools

import numpy as np

from xltune import measure as M

# (stats key, label, what it means) in the order a reader wants them
_STATS = [
    ("config_source", "config", "where the Config came from: default, tuned or explicit"),
    ("ops_before", "ops before passes", "instructions doing work in the entry, as given"),
    ("ops_after", "ops after passes", "after simplify and fusion (a fusion counts its fused ops)"),
    ("kernels", "kernels", "native kernels emitted"),
    ("fallback_ops", "fallback ops", "instructions run by the interpreter inside the program"),
    ("peak_bytes", "peak bytes", "planned peak: params + constants + outputs + arena"),
    ("naive_bytes", "naive bytes", "one buffer per value of the fused program"),
    ("naive_bytes_unfused", "naive bytes (unfused)", "one buffer per value before fusion"),
    ("arena_bytes", "arena bytes", "scratch memory for temporaries"),
    ("compile_seconds", "compile s", "whole compile: parse/trace, passes, codegen, JIT"),
    ("codegen_seconds", "codegen s", "LLVM IR emission"),
    ("llvm_seconds", "llvm s", "LLVM optimisation and machine code"),
    ("object_cache", "object cache", "whether machine code came from the object cache"),
    ("pipeline", "pipeline", "the pass pipeline that ran"),
]


def _scalar(v) -> bool:
    return isinstance(v, (int, float, str, bool, np.integer, np.floating)) or v is None


def stats_frame(exe):
    """One row per statistic of the compile: stat, value, meaning (per-pass seconds included)."""
    import pandas as pd
    st = exe.stats
    rows = [{"stat": label, "value": st[key], "meaning": what} for key, label, what in _STATS if key in st]
    if "fusion_kinds" in st and st["fusion_kinds"]:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(st["fusion_kinds"].items()))
        rows.append({"stat": "fusions", "value": kinds, "meaning": "fusion instructions by kind"})
    for name, secs in (st.get("pass_seconds") or {}).items():
        rows.append({"stat": f"pass {name} s", "value": secs, "meaning": "time in this pass (all rounds)"})
    known = {k for k, _, _ in _STATS} | {"pass_seconds", "passes", "fusion_kinds"}
    for key, v in st.items():
        if key not in known and _scalar(v):
            rows.append({"stat": key, "value": v, "meaning": ""})
    return pd.DataFrame(rows, columns=["stat", "value", "meaning"])


def passes_frame(exe):
    """One row per pass run (fixed-point rounds repeat passes): pass, seconds, changed."""
    import pandas as pd
    runs = exe.stats.get("passes") or []
    return pd.DataFrame([{"pass": r.get("pass"), "seconds": r.get("seconds"), "changed": r.get("changed")}
                         for r in runs], columns=["pass", "seconds", "changed"])


def min_bytes(exe) -> int:
    """Bytes any implementation must move at least: every argument read once, every output written once."""
    return int(sum(getattr(t, "nbytes", 0) for t in exe.param_types) +
               sum(getattr(t, "nbytes", 0) for t in exe.output_types))


@functools.lru_cache(maxsize=1)
def machine_copy_bandwidth() -> tuple[float, bool]:
    """(bytes/s, noisy) of a large numpy copy on this machine, measured once per process."""
    bw, m = M.copy_bandwidth(nbytes=64 << 20, budget_s=0.2)
    return bw, m.noisy


def _row(impl, m, compile_s=None, err=None, note=""):
    row = {"implementation": impl, "median_s": m.median, "iqr_s": m.iqr}
    lo, hi = m.median_ci()
    row.update(ci95_low_s=lo, ci95_high_s=hi, n=m.n, noisy=m.noisy, compile_s=compile_s,
               max_rel_err=err, note=note)
    return row


def _skipped(impl, note):
    return {"implementation": impl, "median_s": np.nan, "iqr_s": np.nan, "ci95_low_s": np.nan,
            "ci95_high_s": np.nan, "n": 0, "noisy": None, "compile_s": None, "max_rel_err": None,
            "note": note}


def default_args(exe, seed: int = 0) -> list:
    """Random inputs for exe: argument i from numpy.random.default_rng(seed + i), as the autotuner
    and `xltune tune` make them (so a tuned time and a notebook time are taken on alike data)."""
    from xltune.autotune.evaluate import make_inputs
    from xltune.errors import ArgumentError
    from xltune.ir.types import TensorType
    for i, (n, t) in enumerate(zip(exe.param_names, exe.param_types)):
        if not isinstance(t, TensorType):
            raise ArgumentError(f"argument {i} (%{n}) has type {t}: random inputs are made for tensors "
                                f"only; give the inputs (args=, or --args in a magic)")
    return make_inputs(exe.module, seed)


def timing_frame(exe, args=None, *, budget_s: float = 0.3, interpreter: bool = True, xla: bool = True,
                 program_text: str | None = None, label: str | None = None):
    """xltune vs the interpreter vs XLA (jax) on the same inputs, measured in one process.

    Columns: implementation, median_s, iqr_s, ci95_low_s, ci95_high_s, n, noisy, compile_s,
    max_rel_err (against the interpreter), note, vs_xltune (time / xltune's time), GB/s (the
    minimum bytes over the median). An implementation that cannot run is a row with a note.
    """
    import pandas as pd
    import xltune
    from xltune.bench.suite import max_rel_error
    from xltune.bench.xla import XlaProgram, available

    args = default_args(exe) if args is None else list(args)
    text = program_text if program_text is not None else exe.stages.get("input", "")
    label = label or f"xltune ({exe.backend})"
    rows = []
    ref = None
    if exe.backend != "interpreter":
        ref_exe = xltune.compile(text, backend="interpreter")
        ref = ref_exe(*args)
    out = exe(*args)
    if ref is None:
        ref = out
    m = M.measure(lambda: exe(*args), budget_s=budget_s)
    rows.append(_row(label, m, exe.stats.get("compile_seconds"), max_rel_error(out, ref)))

    if interpreter and exe.backend != "interpreter":
        mi = M.measure(lambda: ref_exe(*args), budget_s=budget_s, warmup_s=0.0, min_samples=3)
        rows.append(_row("interpreter", mi, ref_exe.stats.get("compile_seconds"), 0.0,
                         "the numpy oracle, op by op"))
    if xla:
        platform = "cpu" if exe.backend in ("cpu", "interpreter") else exe.backend
        why = available(platform)
        if why is not None:
            rows.append(_skipped("XLA (jax)", f"skipped: jax/XLA is not available ({why.splitlines()[0][:120]})"))
        else:
            try:
                prog = XlaProgram(text, platform)
                dev = prog.put(args)
                err = max_rel_error(prog(*args), ref)
                mx = M.measure(lambda: prog.run_device(dev), budget_s=budget_s)
                rows.append(_row("XLA (jax)", mx, prog.compile_seconds, err,
                                 f"XLA {platform}, inputs already on the device"))
            except Exception as e:  # noqa: BLE001 - XLA rejecting a program is a fact to show, not a failure
                rows.append(_skipped("XLA (jax)", f"skipped: XLA could not run it: {type(e).__name__}: "
                                                  f"{str(e).splitlines()[0][:160] if str(e) else ''}"))
    df = pd.DataFrame(rows)
    base = df.loc[0, "median_s"]
    df["vs_xltune"] = df["median_s"] / base
    nbytes = min_bytes(exe)
    df["GB/s"] = nbytes / df["median_s"] / 1e9 if nbytes else np.nan
    df.attrs["min_bytes"] = nbytes
    return df


def bandwidth_frame(timing, copy_bw: float | None = None):
    """Achieved GB/s of every timed implementation against the machine's copy bandwidth."""
    import pandas as pd
    if copy_bw is None:
        copy_bw, _ = machine_copy_bandwidth()
    nbytes = timing.attrs.get("min_bytes", 0)
    rows = []
    for _, r in timing.iterrows():
        if not np.isfinite(r["median_s"]) or not nbytes:
            continue
        gbs = nbytes / r["median_s"] / 1e9
        rows.append({"implementation": r["implementation"], "GB/s": gbs,
                     "copy GB/s": copy_bw / 1e9, "% of copy bandwidth": 100.0 * gbs * 1e9 / copy_bw})
    return pd.DataFrame(rows, columns=["implementation", "GB/s", "copy GB/s", "% of copy bandwidth"])


def summarize_timing(df) -> str:
    """One line: xltune's time and how it compares with the others."""
    if df is None or len(df) == 0:
        return ""
    first = df.iloc[0]
    parts = [f"{first['implementation']}: {M.format_seconds(first['median_s'])}"
             f"{' (noisy)' if first['noisy'] else ''}"]
    for _, r in df.iloc[1:].iterrows():
        if np.isfinite(r["median_s"]):
            ratio = r["median_s"] / first["median_s"]
            how = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
            parts.append(f"{how} than {r['implementation']} ({M.format_seconds(r['median_s'])})")
        else:
            parts.append(f"{r['implementation']} {r['note']}")
    return "; ".join(parts)


def trials_of(result_or_frame):
    """The trials DataFrame of a TuningResult (or the frame itself)."""
    return getattr(result_or_frame, "trials", result_or_frame)


def tuning_frame(result):
    """One row per trial in trial order: number, state, status, time_s, best_so_far_s, compile_s,
    duration_s, reason, config (JSON). best_so_far_s is the best complete time up to that trial."""
    import pandas as pd
    cols = ["number", "state", "status", "time_s", "best_so_far_s", "compile_s", "duration_s", "reason", "config"]
    df = trials_of(result)
    if df is None or len(df) == 0:
        return pd.DataFrame(columns=cols)
    df = df.sort_values("number").reset_index(drop=True)
    out = pd.DataFrame({c: df[c] if c in df else None for c in cols if c != "best_so_far_s"})
    times = pd.to_numeric(df["time_s"], errors="coerce") if "time_s" in df else pd.Series(np.nan, index=df.index)
    out.insert(4, "best_so_far_s", times.cummin().ffill() if times.notna().any() else times)
    return out


def read_bench(path):
    """`xltune bench --json OUT`'s file as (rows DataFrame, summary dict)."""
    import json
    from pathlib import Path

    import pandas as pd
    from xltune.errors import XltuneError
    try:
        data = json.loads(Path(path).read_text())
        return pd.DataFrame(data["rows"]), dict(data.get("summary", {}))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise XltuneError(f"{path}: not an `xltune bench --json` file ({type(e).__name__}: {e})") from None
