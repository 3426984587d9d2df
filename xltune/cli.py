"""The `xltune` command: subcommands delegate to the module that owns the job."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import XltuneError

# subcommand -> (module, help). Each module provides add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "conformance": ("xltune.conformance", "run StableHLO conformance files and report pass rates"),
    "bench": ("xltune.bench", "benchmark workloads: xltune vs XLA (jax) vs the interpreter"),
    "tune": ("xltune.autotune.cli", "autotune a program with Optuna and store the best Config"),
    "run": ("xltune.run_cli", "compile and run a .mlir program on random inputs, print stages/stats"),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xltune", description="XLA-style compiler and autotuner.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (mod, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_module=mod)
        try:
            importlib.import_module(mod).add_arguments(sp)
        except ImportError:
            sp.set_defaults(_unavailable=True)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "_unavailable", False):
        print(f"xltune {args.command}: not available in this installation", file=sys.stderr)
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except XltuneError as e:
        print(f"xltune {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"xltune {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
