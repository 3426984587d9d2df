"""Benchmark workloads: StableHLO text plus argument specs, bytes and flops.

A suite directory holds NAME.mlir files and a manifest.json (the format of
../shared/bench/workloads: per key, `file`, `args` [{shape, dtype}], `min_bytes`, `flops`).
With no directory, the package's own examples (xltune/examples) are the suite.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import XltuneError


@dataclass
class Workload:
    key: str                 # "softmax.cpu"
    name: str                # "softmax"
    size: str                # "cpu" | "gpu" | ""
    text: str
    args: list[tuple[tuple[int, ...], str]]
    min_bytes: int
    flops: float
    source: str              # where the text came from

    def inputs(self) -> list[np.ndarray]:
        """Argument i: standard normal from numpy.random.default_rng(i), cast to its dtype."""
        out = []
        for i, (shape, dt) in enumerate(self.args):
            rng = np.random.default_rng(i)
            out.append(rng.standard_normal(shape, dtype=np.float64).astype(dt))
        return out


def _from_manifest(manifest: dict, read_text, source: str) -> list[Workload]:
    out = []
    for key, e in manifest.items():
        try:
            args = [(tuple(a["shape"]), a["dtype"]) for a in e["args"]]
            out.append(Workload(key, e.get("workload", key.split(".")[0]), e.get("size", ""),
                                read_text(e["file"]), args, int(e.get("min_bytes", 0)),
                                float(e.get("flops", 0.0)), f"{source}/{e['file']}"))
        except (KeyError, TypeError, ValueError) as err:
            raise XltuneError(f"{source}/manifest.json: bad entry {key!r}: {err}") from None
    return out


def load_suite(directory: str | Path | None = None, size: str | None = "cpu",
               only: list[str] | None = None) -> list[Workload]:
    """The workloads of a suite directory (or the package examples), filtered by size and name."""
    if directory is None:
        root = resources.files("xltune.examples")
        manifest = json.loads(root.joinpath("manifest.json").read_text())
        suite = _from_manifest(manifest, lambda f: root.joinpath(f).read_text(), "xltune.examples")
    else:
        d = Path(directory)
        mf = d / "manifest.json"
        if not mf.exists():
            raise XltuneError(f"{d}: no manifest.json (a suite directory needs one)")
        try:
            manifest = json.loads(mf.read_text())
        except json.JSONDecodeError as e:
            raise XltuneError(f"{mf}: not valid JSON: {e}") from None
        suite = _from_manifest(manifest, lambda f: (d / f).read_text(), str(d))
    if size:
        suite = [w for w in suite if not w.size or w.size == size]
    if only:
        suite = [w for w in suite if w.name in only or w.key in only]
    return suite
