"""What the magics compiled in this session, by the name each program is bound to."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Entry:
    name: str
    kind: str                    # "stablehlo" | "python" | "executable"
    program: object              # what compile/tune accept: StableHLO text or the traced function
    backend: str
    exe: object                  # the Executable bound to `name`
    pipeline: str | None = None
    args: list | None = None     # the inputs timing and tuning use (None: random ones)
    timing: object = None        # the last timing DataFrame
    tuning: object = None        # the last TuningResult
