"""`xltune tune`: autotune a program and store its best Config.

One machine:      xltune tune prog.mlir --trials 40
Many machines:    every worker runs
                  xltune tune prog.mlir --storage postgresql://user:pw@host/db --study NAME --trials N
                  and together they run exactly N trials of the one study.
Stored results:   xltune tune --list [--storage URL]
"""
from __future__ import annotations

import json
import os
import sys
import traceback

from xltune.errors import XltuneError


def add_arguments(p):
    p.add_argument("program", nargs="?", help="a .mlir file (StableHLO text)")
    p.add_argument("--backend", default="cpu", help="backend to tune for (default: cpu)")
    p.add_argument("--trials", type=int, default=40,
                   help="the study's total number of trials, shared by all its workers (default 40)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (default: $XLTUNE_STORAGE, else SQLite in the cache dir)")
    p.add_argument("--study", default=None, help="study name: workers with the same name share one study")
    p.add_argument("--sampler", default="tpe", choices=["tpe", "random", "nsga2"])
    p.add_argument("--objectives", default="time",
                   help="time, or time,compile or time,memory for a Pareto front (default: time)")
    p.add_argument("--budget", type=float, default=0.2, help="seconds of measuring per trial (default 0.2)")
    p.add_argument("--final-budget", type=float, default=1.0,
                   help="seconds for the paired re-measurement of the finalists (default 1.0)")
    p.add_argument("--trial-timeout", type=float, default=None,
                   help="seconds before a trial counts as hung (default: max(60, 30 x budget))")
    p.add_argument("--no-isolate", action="store_true", help="run trials in this process (no worker)")
    p.add_argument("--no-prune", action="store_true", help="measure every trial in full")
    p.add_argument("--no-store", action="store_true", help="don't store the best Config")
    p.add_argument("--seed", type=int, default=None, help="sampler seed")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--json", default=None, metavar="OUT", help="write the result summary as JSON")
    p.add_argument("--list", action="store_true", help="list the stored tuned Configs and exit")


def run(args) -> int:
    from xltune.autotune.storage import resolve_url, scrub
    url = resolve_url(args.storage)
    try:
        if args.list:
            return _list(args)
        if not args.program:
            print("xltune tune: give a program (.mlir file), or --list", file=sys.stderr)
            return 2
        return _tune(args)
    except Exception as e:  # noqa: BLE001 - database errors can carry the URL: mask it
        msg = scrub(str(e) if isinstance(e, XltuneError) else f"{type(e).__name__}: {e}", url)
        print(f"xltune tune: error: {msg}", file=sys.stderr)
        if os.environ.get("XLTUNE_DEBUG"):
            print(scrub(traceback.format_exc(), url), file=sys.stderr)
        return 1


def _tune(args) -> int:
    from xltune.autotune.tuner import tune
    if not os.path.exists(args.program):
        print(f"xltune tune: {args.program}: no such file", file=sys.stderr)
        return 2
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    res = tune(args.program, backend=args.backend, trials=args.trials, timeout=args.timeout,
               storage=args.storage, study_name=args.study, sampler=args.sampler,
               isolate=not args.no_isolate, objectives=args.objectives, budget=args.budget,
               final_budget=args.final_budget, trial_timeout=args.trial_timeout, seed=args.seed,
               prune=not args.no_prune, progress=progress, store=not args.no_store)
    print("\n".join(res.summary_lines()))
    if res.pareto is not None and len(res.pareto):
        print("Pareto front:")
        print(res.pareto.to_string(index=False))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary_dict(res), f, indent=1)
    return 0


def summary_dict(res) -> dict:
    cands = res.candidates
    return {
        "study": res.study_name, "storage": res.storage, "backend": res.backend,
        "best_config": json.loads(res.best_config.to_json()), "chosen": res.chosen,
        "default_s": res.default_s, "best_s": res.best_s,
        "speedup": None if res.speedup != res.speedup else res.speedup,
        "n_trials": res.n_trials, "ran_here": res.ran_here, "states": res.state_counts(),
        "trials_to_5pct": res.trials_to_within(0.05), "worker_starts": res.worker_starts,
        "stored_key": res.stored_key, "notes": list(res.notes),
        "candidates": json.loads(cands.to_json(orient="records")) if cands is not None else [],
        "pareto": json.loads(res.pareto.to_json(orient="records")) if res.pareto is not None else None,
    }


def _list(args) -> int:
    from xltune.autotune.cache import tuned_configs
    from xltune.autotune.storage import mask_url, resolve_url
    df = tuned_configs(args.storage)
    print(f"tuned configs in {mask_url(resolve_url(args.storage))}: {len(df)}")
    if len(df):
        show = df[["backend", "entry", "speedup", "best_s", "config_json", "study_name"]].copy()
        show["module"] = df["module_digest"].str[:12]
        print(show.to_string(index=False, max_colwidth=60))
    return 0
