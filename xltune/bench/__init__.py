"""`xltune bench`: xltune vs XLA (through jax) vs the interpreter, side by side in one run."""
from __future__ import annotations

import json
import sys

from .suite import BenchOptions, run_suite
from .workloads import Workload, load_suite

COLUMNS = [  # (column, header, format)
    ("workload", "workload", "{}"),
    ("xltune_s", "xltune ms", "ms"),
    ("tuned_s", "tuned ms", "ms"),
    ("xla_s", "XLA ms", "ms"),
    ("interp_s", "interp ms", "ms"),
    ("speedup_vs_xla", "vs XLA", "x"),
    ("speedup_vs_xla_best", "vs XLA (best samples)", "x"),
    ("tuned_speedup_vs_xla", "tuned vs XLA", "x"),
    ("tuned_vs_default", "tuned vs default", "x"),
    ("GB/s", "GB/s", "{:.1f}"),
    ("%copy_bw", "% copy bw", "{:.0f}%"),
    ("GFLOP/s", "GFLOP/s", "{:.1f}"),
    ("compile_cold_s", "compile cold ms", "ms"),
    ("compile_warm_s", "compile warm ms", "ms"),
    ("xla_compile_s", "XLA compile ms", "ms"),
    ("xla_codegen_compile_s", "XLA compile, LLVM only ms", "ms"),
    ("kernels", "kernels", "{}"),
    ("fallback_ops", "fallbacks", "{}"),
    ("max_rel_err", "max rel err", "{:.1e}"),
    ("trials_to_5pct", "trials to 5%", "{}"),
    ("tuned_slower_beyond_noise", "tuned slower (beyond noise)", "yesno"),
    ("error", "error", "{}"),
]


def _fmt(v, f):
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if f == "ms":
        return f"{v * 1e3:.3f}"
    if f == "yesno":
        return "yes" if v else "no"
    if f == "x":
        return f"{v:.2f}x"
    return f.format(v)


def markdown_table(df) -> str:
    cols = [(c, h, f) for c, h, f in COLUMNS if c in df.columns and df[c].notna().any()]
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " |",
             "| " + " | ".join("---" for _ in cols) + " |"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r.get(c), f) for c, _, f in cols) + " |")
    return "\n".join(lines)


def summary_lines(summary: dict) -> list[str]:
    out = [f"copy bandwidth (numpy copy, same run): {summary['copy_bw_GBps']:.1f} GB/s"]
    if "xltune_first_compile_s" in summary:
        xla = summary.get("xla_first_compile_s")
        out.append(f"first compile of the process (warm-up, not in the table): xltune "
                   f"{summary['xltune_first_compile_s'] * 1e3:.0f} ms"
                   + (f", XLA {xla * 1e3:.0f} ms" if xla is not None else ""))
    for k in ("geomean_speedup_vs_xla", "min_speedup_vs_xla", "geomean_speedup_vs_xla_best",
              "min_speedup_vs_xla_best", "geomean_tuned_speedup_vs_xla",
              "min_tuned_speedup_vs_xla", "geomean_tuned_vs_default", "geomean_speedup_vs_interp"):
        if k in summary:
            out.append(f"{k.replace('_', ' ')}: {summary[k]:.2f}x")
    if "tuned_slower_beyond_noise" in summary:
        out.append(f"workloads where tuned is slower than default beyond noise: "
                   f"{summary['tuned_slower_beyond_noise']}")
    for key, what in (("cold_compile_vs_xla", "XLA"), ("cold_compile_vs_xla_llvm_only", "XLA, LLVM only")):
        if f"max_{key}" in summary:
            out.append(f"cold compile / {what} compile: at most {summary[f'max_{key}']:.2f}x "
                       f"({summary[f'max_{key}_workload']}); within 2x on {summary[f'{key}_within_2x']} "
                       f"of {summary['workloads']} workloads")
    if "max_trials_to_5pct" in summary:
        out.append(f"most trials to reach within 5% of the best: {summary['max_trials_to_5pct']}")
    return out


def add_arguments(p):
    p.add_argument("directory", nargs="?", default=None,
                   help="suite directory with manifest.json (default: the package's own examples)")
    p.add_argument("--backend", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--size", default=None, help="workload size class to run (default: the backend's)")
    p.add_argument("--only", nargs="*", help="workload names to run")
    p.add_argument("--budget", type=float, default=1.0, help="seconds of measuring per variant")
    p.add_argument("--tune", type=int, default=0, metavar="N", help="also autotune with N trials")
    p.add_argument("--tune-timeout", type=float, default=None, help="seconds of tuning per workload")
    p.add_argument("--storage", default=None, help="Optuna storage URL for tuning (default: SQLite cache)")
    p.add_argument("--no-xla", action="store_true", help="skip the XLA comparison")
    p.add_argument("--no-interpreter", action="store_true", help="don't time the interpreter")
    p.add_argument("--json", default=None, metavar="OUT", help="write rows and summary as JSON")
    p.add_argument("--markdown", default=None, metavar="OUT", help="write the table as Markdown")


def run(args) -> int:
    size = args.size or args.backend
    suite = load_suite(args.directory, size=size, only=args.only)
    if not suite:
        print("xltune bench: no workloads matched", file=sys.stderr)
        return 1
    opts = BenchOptions(backend=args.backend, budget_s=args.budget, tune_trials=args.tune,
                        tune_timeout_s=args.tune_timeout, storage=args.storage, xla=not args.no_xla,
                        interpreter=not args.no_interpreter, progress=sys.stderr.isatty())
    df, summary = run_suite(suite, opts)
    table = markdown_table(df)
    lines = summary_lines(summary)
    print(table)
    print()
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n\n" + "\n".join(f"- {l}" for l in lines) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "rows": json.loads(df.to_json(orient="records", double_precision=15))}, f, indent=1)
    return 0 if "error" not in df.columns or df["error"].isna().all() else 1


__all__ = ["Workload", "load_suite", "run_suite", "BenchOptions", "markdown_table", "add_arguments", "run"]
