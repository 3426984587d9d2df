"""Parser speed: `python -m xltune.frontend.stablehlo.bench DIR_OR_FILE... [--repeat N] [--print]`.

Parses every .mlir file (split files chunk by chunk), best of N runs per file, and prints the
overall rate in ms per KB, the slowest files per KB and the times of the largest files.
`--print` also times printing the parsed modules back to text.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import parse, split_chunks


def _files(paths):
    out = []
    for p in map(Path, paths):
        out.extend(sorted(p.rglob("*.mlir")) if p.is_dir() else [p])
    return out


def _time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(paths, repeat: int = 3, do_print: bool = False, out=sys.stdout) -> dict:
    from ...ir.printer import print_module

    rows = []
    for path in _files(paths):
        text = path.read_text()
        chunks = split_chunks(text) if "\n// -----" in text else [(1, text)]

        def run():
            return [parse(c, str(path), first) for first, c in chunks]

        secs = _time(run, repeat)
        psecs = 0.0
        if do_print:
            modules = run()
            psecs = _time(lambda: [print_module(m) for m in modules], repeat)
        rows.append((path, len(text.encode()), secs, psecs))
    if not rows:
        print("no .mlir files found", file=out)
        return {}
    total_kb = sum(r[1] for r in rows) / 1024
    total_s = sum(r[2] for r in rows)
    print(f"{len(rows)} files, {total_kb:,.0f} KB, parsed in {total_s * 1e3:,.0f} ms "
          f"(best of {repeat}): {total_s * 1e3 / total_kb:.3f} ms/KB", file=out)
    if do_print:
        ptotal = sum(r[3] for r in rows)
        print(f"printed in {ptotal * 1e3:,.0f} ms: {ptotal * 1e3 / total_kb:.3f} ms/KB", file=out)
    print("largest files:", file=out)
    for path, size, secs, psecs in sorted(rows, key=lambda r: -r[1])[:5]:
        extra = f", print {psecs * 1e3:7.1f} ms" if do_print else ""
        print(f"  {path.name:48s} {size / 1024:9,.0f} KB  parse {secs * 1e3:7.1f} ms "
              f"({secs * 1e3 / (size / 1024):.3f} ms/KB){extra}", file=out)
    slow = sorted((r for r in rows if r[1] > 2048), key=lambda r: -r[2] / r[1])[:5]
    if slow:
        print("slowest per KB (files over 2 KB):", file=out)
        for path, size, secs, _ in slow:
            print(f"  {path.name:48s} {size / 1024:9,.1f} KB  {secs * 1e3:7.2f} ms "
                  f"({secs * 1e3 / (size / 1024):.3f} ms/KB)", file=out)
    return {"files": len(rows), "kb": total_kb, "seconds": total_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xltune.frontend.stablehlo.bench", description=__doc__)
    ap.add_argument("paths", nargs="+", help=".mlir files or directories (searched recursively)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per file; the best is kept")
    ap.add_argument("--print", dest="do_print", action="store_true", help="also time printing")
    args = ap.parse_args(argv)
    bench(args.paths, args.repeat, args.do_print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
