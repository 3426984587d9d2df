"""`Executable.profile`: whole-program time and, where the backend offers it, time per kernel.

Per-kernel timing is the runner's to offer, through one optional hook:

    runner.kernel_calls(arrays) -> list[(kernel name, zero-argument callable)]

each callable running that one kernel on buffers prepared from `arrays` (inputs as they would
be when the kernel runs). The callables are timed here with `xltune.measure`, like everything
else; a runner without the hook gives the whole-program row only, and the frame says so.
"""
from __future__ import annotations

from xltune import measure as M

COLUMNS = ["kind", "name", "median_s", "iqr_s", "q1_s", "q3_s", "n", "noisy", "share"]


def _row(kind, name, m, whole=None):
    return {"kind": kind, "name": name, "median_s": m.median, "iqr_s": m.iqr, "q1_s": m.q1, "q3_s": m.q3,
            "n": m.n, "noisy": m.noisy, "share": (m.median / whole) if whole else 1.0}


def profile_frame(exe, args=None, budget_s: float = 0.5):
    """A DataFrame: one 'program' row (median, IQR, noisy flag), then one 'kernel' row per kernel
    when the backend's runner offers per-kernel timing. `share` is a kernel's median over the
    whole program's. attrs['note'] says what was (not) measured."""
    import pandas as pd
    from .frames import default_args

    args = default_args(exe) if args is None else list(args)
    checked = exe.check_args(args)
    whole = M.measure(lambda: exe(*checked), budget_s=budget_s)
    rows = [_row("program", "(whole program)", whole)]
    hook = getattr(exe.runner, "kernel_calls", None)
    if hook is None:
        note = f"the {exe.backend} runner offers no per-kernel timing: whole program only"
    else:
        calls = list(hook(checked))
        per = budget_s / max(1, len(calls))
        for name, fn in calls:
            rows.append(_row("kernel", name, M.measure(fn, budget_s=per, warmup_s=0.01), whole.median))
        note = f"{len(calls)} kernel(s) timed one at a time; shares need not add up to 1 (caches, launch costs)"
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["note"] = note
    return df
