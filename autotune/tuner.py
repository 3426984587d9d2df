"""`tune`: an Optuna study over a program's Knobs — measured, checked, cached, distributable.

The loop, per trial (ask/tell, so a global trial cap can be claimed before each ask):
  claim a slot of the study's trial budget (atomic, shared by every worker) -> study.ask()
  -> suggest fusion knobs, run the fusion stage, ask the backend for the fused module's kernel
  knobs, suggest those (define-by-run) -> build, check against the interpreter, measure (in a
  worker process when isolate=True), reporting an early measurement to the pruner -> tell.
Trial 0 is the default Config. At the end the fastest few distinct Configs and the default are
re-measured in paired alternation; a Config replaces the default only when it is faster beyond
the noise. The result is stored as the tuned Config for this module, backend and device.
"""
from __future__ import annotations

import logging
import math
import numbers
import os
import secrets
import socket
import time
import warnings
from contextlib import contextmanager

import numpy as np

from xltune import measure as M
from xltune.config import Config, schema_digest
from xltune.errors import TuningError, XltuneError

from . import cache, storage as S
from .evaluate import EvalSpec, as_list, make_inputs
from .result import TuningResult
from .space import SearchSpace, suggest

log = logging.getLogger("xltune.autotune")

OBJECTIVES = {"time": "time_s", "compile": "compile_s", "compile_time": "compile_s",
              "memory": "peak_bytes", "peak_memory": "peak_bytes"}
SLOWER_PRUNE_FACTOR = 1.5


def _objectives(objectives) -> tuple[str, ...]:
    if isinstance(objectives, str):
        objectives = [o.strip() for o in objectives.split(",") if o.strip()]
    objs = tuple(objectives) or ("time",)
    for o in objs:
        if o not in OBJECTIVES:
            raise TuningError(f"unknown objective {o!r}; choose from time, compile, memory")
    if objs[0] != "time":
        raise TuningError("the first objective must be 'time' (runtime); add compile or memory after it")
    return tuple(OBJECTIVES[o] for o in objs)


def make_sampler(sampler, seed=None, n_trials: int = 40, multi: bool = False):
    import optuna
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    name = (sampler or "tpe").lower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            startup = max(3, min(10, n_trials // 5))
            return optuna.samplers.TPESampler(constant_liar=True, multivariate=True, group=True,
                                              n_startup_trials=startup, seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name in ("nsga2", "nsgaii"):
            return optuna.samplers.NSGAIISampler(seed=seed)
    raise TuningError(f"unknown sampler {sampler!r}; choose tpe, random or nsga2 (or pass an Optuna sampler)")


def _pruner():
    import optuna
    from optuna.trial import TrialState

    class SlowerThanBestPruner(optuna.pruners.BasePruner):
        """Stop a trial when even the fastest sample of its quick first measurement is `factor`
        times the best completed trial's time: measuring it longer cannot make it a finalist."""

        def __init__(self, factor: float = SLOWER_PRUNE_FACTOR):
            self.factor = factor

        def prune(self, study, trial) -> bool:
            step = trial.last_step
            if step is None:
                return False
            value = trial.intermediate_values[step]
            done = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.value is not None]
            return bool(done) and value > self.factor * min(done)

    return SlowerThanBestPruner()


@contextmanager
def _quiet_optuna():
    import optuna
    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(old)


def _default_study_name(parts: dict) -> str:
    return (f"xltune-{parts['backend']}-{parts['module_digest'][:12]}-"
            f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}")


def _study_key(parts: dict, objectives) -> dict:
    return {"module_digest": parts["module_digest"], "backend": parts["backend"],
            "fingerprint": parts["fingerprint"], "version": parts["version"],
            "schema_token": parts["schema_token"], "objectives": list(objectives)}


def _open_study(rdb, url, name, directions, sampler, pruner, key):
    import optuna

    def make():
        return optuna.create_study(storage=rdb, study_name=name, directions=directions,
                                   sampler=sampler, pruner=pruner, load_if_exists=True)
    try:
        study = S._retry(make, url, f"opening study {name!r}")
    except ValueError as e:  # e.g. the directions differ from the stored study's
        raise TuningError(f"study {name!r} on {S.mask_url(url)} cannot be used: {e}") from None
    have = study.user_attrs.get("xltune.key")
    if have is None:
        study.set_user_attr("xltune.key", key)
    elif have != key:
        diff = [k for k in key if have.get(k) != key[k]]
        raise TuningError(f"study {name!r} on {S.mask_url(url)} tunes something else "
                          f"(its {', '.join(diff)} differ{'s' if len(diff) == 1 else ''}); "
                          f"give another --study name")
    return study


def _reference(module, args) -> list:
    import xltune
    ref = xltune.compile(module, backend="interpreter", config=Config())
    return [np.asarray(o) for o in as_list(ref(*args))]


def tune(program, backend: str = "cpu", trials: int = 40, timeout: float | None = None,
         storage=None, study_name: str | None = None, sampler="tpe", isolate: bool = True,
         args=None, *, objectives=("time",), budget: float = 0.2, trial_timeout: float | None = None,
         final_budget: float = 1.0, top_k: int = 3, pipeline: str | None = None, specs=None,
         rtol: float | None = None, atol: float | None = None, seed: int | None = None,
         prune: bool = True, progress: bool = True, store: bool = True, callbacks=()) -> TuningResult:
    """Autotune `program` (StableHLO text, a .mlir path, a Module or a function with `specs`).

    trials: the study's total trial count (shared by every worker of a named study; exact).
    timeout: stop starting trials after this many seconds. storage: an Optuna storage URL
    (default: $XLTUNE_STORAGE, else SQLite in the cache dir) or an RDBStorage. study_name:
    None starts a fresh study; a name joins (or resumes) that study. isolate: run trials in a
    worker process (a crash or hang fails the trial, not the caller). args: the inputs to
    check and measure on (default: random ones). objectives: ("time",) or ("time", "compile")
    or ("time", "memory") for a Pareto front. budget: seconds of measuring per trial.
    callbacks: called as cb(study, frozen_trial) after each trial this call runs, in the
    caller's thread (as Optuna's optimize(callbacks=...); a notebook's live plot uses it).
    """
    import optuna
    from optuna.storages._heartbeat import get_heartbeat_thread
    from optuna.trial import TrialState
    from xltune.compiler import get_backend, load_program

    if isinstance(trials, bool) or not isinstance(trials, numbers.Integral) or trials < 1:
        raise TuningError(f"trials must be a positive integer, got {trials!r}")
    trials = int(trials)
    cols = _objectives(objectives)
    module, text = load_program(program, specs)
    be = get_backend(backend)
    if be.name == "interpreter" or not callable(getattr(be, "knobs", None)):
        raise TuningError(f"backend {be.name!r} has nothing to tune")

    args = make_inputs(module) if args is None else [np.asarray(a) for a in args]
    expected = _reference(module, args)
    space = SearchSpace(module, be, pipeline)
    default_cfg, default_knobs = space.default()
    tunable = [k for k in default_knobs if len(k.choices) > 1]
    parts = cache.key_parts(module, be)

    url = S.resolve_url(storage)
    masked = S.mask_url(url)
    rdb = S.open_optuna_storage(storage)
    name = study_name or _default_study_name(parts)
    multi = len(cols) > 1
    spec = EvalSpec(program=text, backend=be.name,
                    backend_path=f"{type(be).__module__}:{type(be).__qualname__}",
                    pipeline=pipeline, args=args, expected=expected, rtol=rtol, atol=atol,
                    budget_s=budget, objectives=cols)
    trial_timeout = trial_timeout or max(60.0, 30 * budget)
    cap = trials if tunable else 1  # nothing to choose: the default is the only point

    with _quiet_optuna():
        study = _open_study(rdb, url, name, ["minimize"] * len(cols),
                            make_sampler(sampler, seed, trials, multi), _pruner(),
                            _study_key(parts, [o for o in cols]))
        S.ensure_budget(url, name, cap, prepare=lambda: study.enqueue_trial(
            {k.name: k.default for k in tunable}, user_attrs={"xltune.role": "default"},
            skip_if_exists=True))  # trial 0: every knob at its default
        claimed, total = S.budget_state(url, name)
        log.info("tuning %s on %s: study %s on %s, %d of %d trials claimed", be.name,
                 parts["module_digest"][:12], name, masked, claimed, total)

        runner = _make_runner(spec, isolate)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=max(0, total - claimed), desc=f"tune {be.name}", unit="trial", leave=True)
        ran = 0
        t_start = time.monotonic()
        worker = f"{socket.gethostname()}:{os.getpid()}"
        try:
            while timeout is None or time.monotonic() - t_start < timeout:
                optuna.storages.fail_stale_trials(study)  # a dead worker's trial: FAIL, not lost
                if not S.claim_trial(url, name):
                    break
                trial = study.ask()
                with get_heartbeat_thread(trial._trial_id, rdb):
                    try:
                        state, values = _run_trial(trial, space, runner, trial_timeout, worker,
                                                   prune and not multi, cols)
                        study.tell(trial, values, state=state)
                    except optuna.exceptions.UpdateFinishedTrialError:
                        # another worker failed it: our heartbeats stopped for longer than the
                        # grace period (a long stall holding the GIL, say); the study goes on
                        log.warning("trial %d was closed by another worker before it finished", trial.number)
                    except BaseException as e:  # fail this trial rather than leave it running
                        why = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
                        try:
                            trial.set_user_attr("reason", S.scrub(why, url))
                            study.tell(trial, state=TrialState.FAIL)
                        except optuna.exceptions.UpdateFinishedTrialError:
                            pass
                        raise
                ran += 1
                if callbacks:
                    frozen = rdb.get_trial(trial._trial_id)
                    for cb in callbacks:
                        cb(study, frozen)
                if bar is not None:
                    bar.update(1)
                    _postfix(bar, study, multi)
            if bar is not None:
                bar.close()
                bar = None
            result = _finish(study, rdb, space, runner, be, module, url, name, cols, top_k,
                             final_budget, trial_timeout, store, schema_digest(default_knobs))
        finally:
            if bar is not None:
                bar.close()
            runner.close()  # never leave a worker process behind, even when interrupted
    result.ran_here = ran
    result.worker_starts = runner.starts
    return result


def _make_runner(spec, isolate):
    from .worker import InProcessRunner, IsolatedRunner
    return IsolatedRunner(spec) if isolate else InProcessRunner(spec)


def _postfix(bar, study, multi):
    from optuna.trial import TrialState
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if done:
        best = min(t.values[0] for t in done)
        bar.set_postfix_str(f"best {M.format_seconds(best)}")


def _run_trial(trial, space, runner, trial_timeout, worker, prune, cols):
    """One trial: suggest, evaluate, record. Returns (state, values) for study.tell."""
    from optuna.trial import TrialState
    trial.set_user_attr("worker", worker)
    try:
        config, _ = suggest(trial, space)
    except Exception as e:  # noqa: BLE001 - a pass failing on a knob choice fails the trial
        trial.set_user_attr("status", "error")
        trial.set_user_attr("reason", f"while choosing knobs: {type(e).__name__}: {e}")
        return TrialState.FAIL, None
    cj = config.to_json()
    trial.set_user_attr("config", cj)

    def on_report(step, value):
        trial.report(value, step)
        return trial.should_prune()

    res = runner.trial(cj, trial_timeout, on_report if prune else None)
    status = res.get("status", "error")
    attrs = {"status": status}
    for k in ("reason", "compile_s", "time_s", "rel_spread", "noisy", "n", "kernels", "peak_bytes", "pid"):
        v = res.get(k)
        if v is not None:
            attrs[k] = v.item() if isinstance(v, np.generic) else v
    for k, v in attrs.items():
        trial.set_user_attr(k, v)
    if status == "ok":
        values = [float(res.get(c, math.nan)) for c in cols]
        if all(math.isfinite(v) for v in values):
            return TrialState.COMPLETE, values
        trial.set_user_attr("reason", f"objective not measured: {dict(zip(cols, values))}")
        return TrialState.FAIL, None
    if status == "pruned":
        return TrialState.PRUNED, None
    return TrialState.FAIL, None


def _wait_for_others(study, url, name, limit_s):
    """When the study's budget is spent, wait (bounded) for other workers' trials still running,
    so that the final choice sees every trial. A dead worker's trial is failed meanwhile."""
    import optuna
    from optuna.trial import TrialState
    state = S.budget_state(url, name)
    if state is None or state[0] < state[1]:
        return  # stopped by the timeout while others may go on: don't wait for them
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        optuna.storages.fail_stale_trials(study)
        if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            return
        time.sleep(0.25)


def _select(study, space, runner, top_k, final_budget, trial_timeout) -> dict:
    """The fastest few distinct Configs and the default, re-measured in paired alternation; a
    Config wins over the default only when it is faster beyond the noise."""
    from optuna.trial import TrialState
    all_trials = study.get_trials(deepcopy=False)
    done = [t for t in all_trials if t.state == TrialState.COMPLETE and "config" in t.user_attrs]
    notes: list[str] = []
    if not done:
        reasons = sorted({t.user_attrs.get("reason", t.state.name) for t in all_trials})
        raise TuningError(f"no trial of study {study.study_name!r} completed; "
                          f"reasons: {'; '.join(r[:200] for r in reasons[:5]) or 'no trials ran'}")
    done.sort(key=lambda t: t.values[0])
    finalists: dict[str, str] = {"default": Config().to_json()}
    trial_of: dict[str, int | None] = {"default": None}
    seen = {Config().to_json()}
    for t in done:
        if len(finalists) > top_k:
            break
        try:
            cj = space.minimal(Config.from_json(t.user_attrs["config"])).to_json()
        except Exception:  # noqa: BLE001 - a Config the passes now reject is no finalist
            continue
        if cj in seen:
            continue
        seen.add(cj)
        finalists[f"trial {t.number}"] = cj
        trial_of[f"trial {t.number}"] = t.number

    res = runner.paired(finalists, final_budget, 15,
                        timeout=trial_timeout * (len(finalists) + 1) + 10 * final_budget)
    ms: dict[str, M.Measurement] = {}
    failed: dict[str, str] = {}
    if "samples" in res:
        ms = {k: M.Measurement(np.asarray(v), res["batch"][k]) for k, v in res["samples"].items()}
        failed = res.get("failed", {})
    else:
        notes.append(f"paired re-measurement failed ({res.get('reason', res.get('status'))}); "
                     f"keeping the default Config")
    chosen = "default"
    if ms:
        others = [k for k in ms if k != "default"]
        fastest = min(others, key=lambda k: ms[k].median) if others else None
        if "default" in ms:
            if fastest is not None and M.faster_beyond_noise(ms[fastest], ms["default"]):
                chosen = fastest
        elif fastest is not None:
            chosen = fastest
            notes.append(f"the default Config failed its check ({failed.get('default')}); "
                         f"{fastest} is the fastest correct one")
    best = Config.from_json(finalists[chosen])
    if chosen != "default":
        simple = runner.simplify(best.to_json(), timeout=trial_timeout * (len(best) + 2))
        if simple.get("dropped"):
            best = Config.from_json(simple["config"])  # builds the very same program
            notes.append(f"left out {len(simple['dropped'])} knob(s) that don't change the program: "
                         f"{', '.join(simple['dropped'])}")
        if "default" in ms and not _confirm(runner, ms, chosen, best, final_budget, trial_timeout, notes):
            chosen, best = "default", Config()
    return {"finalists": finalists, "trial_of": trial_of, "ms": ms, "failed": failed, "chosen": chosen,
            "best": best, "notes": notes,
            "n_considered": sum(1 for t in all_trials if t.state.is_finished())}


def _confirm(runner, ms, chosen, best, final_budget, trial_timeout, notes) -> bool:
    """A second, separate paired round of the winner (as it will be stored) against the default.
    It must be faster again, and faster beyond noise over both rounds together: a lucky round —
    a neighbour's load that hurt the default's threads more, say — doesn't make a tuned Config."""
    res = runner.paired({"default": Config().to_json(), "best": best.to_json()}, final_budget, 15,
                        timeout=3 * trial_timeout + 10 * final_budget)
    samples = res.get("samples", {})
    if "best" not in samples or "default" not in samples:
        notes.append(f"the winner ({chosen}) could not be re-measured "
                     f"({res.get('failed') or res.get('reason') or res.get('status')}); keeping the default")
        return False
    d2, b2 = (M.Measurement(np.asarray(samples[k]), res["batch"][k]) for k in ("default", "best"))
    d = M.Measurement(np.concatenate([ms["default"].samples, d2.samples]), d2.batch)
    b = M.Measurement(np.concatenate([ms[chosen].samples, b2.samples]), b2.batch)
    if b2.median < d2.median and M.faster_beyond_noise(b, d):
        ms["default"], ms[chosen] = d, b  # report both rounds
        return True
    notes.append(f"{chosen} did not confirm in a second paired round (default {d2}, it {b2}); "
                 f"keeping the default")
    return False


def _publish(study, rdb, sel, module, be, url, name, store, digest) -> tuple[dict, str | None]:
    """Record the choice as study user attrs and as the stored tuned Config — under the study's
    lock, so that when several workers finish at once the two always agree, and a choice made
    from fewer trials never replaces one made from more. Returns (the published attrs, key)."""
    ms, chosen = sel["ms"], sel["chosen"]
    default_m, best_m = ms.get("default"), ms.get(chosen)
    mine = {"xltune.best_config": sel["best"].to_json(), "xltune.chosen": chosen,
            "xltune.default_s": default_m.median if default_m is not None else None,
            "xltune.best_s": best_m.median if best_m is not None else None,
            "xltune.final_n": sel["n_considered"]}
    with S.study_lock(url, name):
        have = rdb.get_study_user_attrs(study._study_id)
        if have.get("xltune.final_n", -1) > mine["xltune.final_n"]:
            sel["notes"].append(f"another worker's choice, made from {have['xltune.final_n']} trials, "
                                f"stays (this one saw {mine['xltune.final_n']})")
            return have, None
        for k, v in mine.items():
            study.set_user_attr(k, v)
        key = None
        if store:
            n_trials = len(study.get_trials(deepcopy=False))
            kw = dict(schema_digest=digest, default_s=mine["xltune.default_s"],
                      best_s=mine["xltune.best_s"], study_name=name, n_trials=n_trials)
            key = cache.store_tuned(module, be, sel["best"], storage=url, **kw)
            local = S.resolve_url(None)
            if local != url:  # also remember it where this machine's compiles look by default
                try:
                    cache.store_tuned(module, be, sel["best"], storage=local, **kw)
                except XltuneError as e:
                    sel["notes"].append(f"could not also store the result locally: {e}")
        return mine, key


def _finish(study, rdb, space, runner, be, module, url, name, cols, top_k, final_budget,
            trial_timeout, store, digest) -> TuningResult:
    """Pick the winner, publish it, build the result."""
    import pandas as pd
    _wait_for_others(study, url, name, trial_timeout + S.GRACE_PERIOD_S + 5)
    sel = _select(study, space, runner, top_k, final_budget, trial_timeout)
    published, key = _publish(study, rdb, sel, module, be, url, name, store, digest)
    ms, finalists = sel["ms"], sel["finalists"]
    best_cfg = Config.from_json(published["xltune.best_config"])
    chosen = sel["chosen"]
    if published.get("xltune.best_config") != sel["best"].to_json():  # another worker's choice stays
        by_cfg = {cj: k for k, cj in finalists.items()}
        chosen = by_cfg.get(best_cfg.to_json(), "another worker's choice")
    default_m = ms.get("default")
    best_m = ms.get(chosen)
    if best_m is None and best_cfg == Config():
        best_m = default_m
    if default_m is not None and best_m is not None:
        speedup = default_m.median / best_m.median
    elif published.get("xltune.default_s") and published.get("xltune.best_s"):
        speedup = published["xltune.default_s"] / published["xltune.best_s"]
    else:
        speedup = math.nan

    cand_rows = []
    for k, cj in finalists.items():
        m = ms.get(k)
        row = {"candidate": k, "trial": sel["trial_of"][k], "config": cj, "chosen": k == chosen,
               "failed": sel["failed"].get(k)}
        if m is not None:
            lo, hi = m.median_ci()
            row.update(median_s=m.median, iqr_s=m.iqr, ci95_low_s=lo, ci95_high_s=hi, noisy=m.noisy, n=m.n)
        cand_rows.append(row)

    pareto = None
    if len(cols) > 1:
        pareto = pd.DataFrame([{"trial": t.number, **{c: v for c, v in zip(cols, t.values)},
                                "config": t.user_attrs.get("config")} for t in study.best_trials])
    return TuningResult(best_config=best_cfg, default_time=default_m, best_time=best_m, speedup=speedup,
                        study=study, trials=trials_frame(study, cols), backend=be.name,
                        study_name=name, storage=S.mask_url(url), chosen=chosen,
                        objectives=tuple(cols), candidates=pd.DataFrame(cand_rows), pareto=pareto,
                        stored_key=key, notes=sel["notes"])


def trials_frame(study, cols=("time_s",)):
    """One row per trial: number, state, measured times, status and reason, config, params."""
    import pandas as pd
    rows = []
    for t in study.get_trials(deepcopy=False):
        ua = t.user_attrs
        row = {"number": t.number, "state": t.state.name}
        if t.values is not None:
            for c, v in zip(cols, t.values):
                row[f"value_{c}"] = v
        for k in ("time_s", "compile_s", "rel_spread", "noisy", "n", "peak_bytes", "kernels",
                  "status", "reason", "worker", "pid", "config"):
            row[k] = ua.get(k)
        if t.state.name == "FAIL" and row["status"] is None and row["reason"] is None:
            row["status"] = "lost"
            row["reason"] = "its worker stopped sending heartbeats (died or was killed)"
        # time_s counts only for complete trials; a pruned one keeps its quick first reading apart
        row["time_s_partial"] = row["time_s"] if t.state.name == "PRUNED" else None
        if t.state.name != "COMPLETE":
            row["time_s"] = None
        row["duration_s"] = t.duration.total_seconds() if t.duration is not None else None
        for p, v in t.params.items():
            row[f"params_{p}"] = v
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["number", "state", "time_s"])
