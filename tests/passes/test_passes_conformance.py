"""Every pass preserves semantics on the whole StableHLO conformance set: the interpreter's results
before and after the pipeline agree.

Each test function is instrumented as for a compiled backend (checks become outputs, non-scalar
constants become parameters, so the passes see real computations rather than constants) and also
run as it is (constant folding then does most of the work). Each file also runs under one
non-default Config, rotating through POLICIES, so the whole set sees every policy.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

SHARDS = 8
POLICIES = [
    {"fusion.row_fusion": False},
    {"fusion.multi_output": False, "fusion.sibling": False},
    {"fusion.dot_epilogue": True, "fusion.max_ops_per_kernel": 8},
    {"fusion.duplicate_cheap_producers": False, "fusion.fuse_into_reduction": False},
    {"fusion.reduction_epilogue": False, "fusion.row_fusion": False, "fusion.multi_output": False},
]


def _files(conformance_dir: Path) -> list[Path]:
    return sorted((conformance_dir / "testdata").glob("*.mlir")) + sorted((conformance_dir / "interpret").glob("*.mlir"))


def _agree(a, b) -> bool:
    from xltune.ir.dtypes import from_numpy
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    dt = from_numpy(a.dtype)
    if dt.is_float or dt.is_complex:
        eps = float(ml_dtypes.finfo(dt.component.np_dtype).eps)
        wide = np.complex128 if dt.is_complex else np.float64
        return np.allclose(a.astype(wide), b.astype(wide), rtol=max(1e-5, 16 * eps), atol=max(1e-6, 16 * eps),
                           equal_nan=True)
    return np.array_equal(a, b)


def _check_file(path: Path, config: dict) -> tuple[int, list[str]]:
    import xltune
    from xltune.conformance import _chunks, _test_functions, instrument
    from xltune.interpreter import evaluate
    from xltune.passes import run_pipeline

    compared, problems = 0, []
    for chunk in _chunks(path.read_text()):
        module = xltune.parse(chunk, source=str(path))
        for name in _test_functions(module):
            for lift, cfg in ((True, {}), (True, config), (False, {})):
                try:
                    m, _, args = instrument(module, name, lift)
                    with np.errstate(all="ignore"):
                        want = evaluate(m, *args)
                except xltune.XltuneError:
                    continue  # the interpreter itself cannot run this one: nothing to compare with
                try:
                    run_pipeline(m, "simplify,fusion,buffers", cfg, {}, {}, verify=True)
                    with np.errstate(all="ignore"):
                        got = evaluate(m, *args)
                except Exception as e:  # noqa: BLE001 - any failure here is a pass bug
                    problems.append(f"{path.name} @{name} lift={lift} {cfg}: {type(e).__name__}: {e}"[:400])
                    continue
                bad = [i for i, (a, b) in enumerate(zip(want, got)) if not _agree(a, b)]
                if len(want) != len(got) or bad:
                    problems.append(f"{path.name} @{name} lift={lift} {cfg}: outputs {bad} differ")
                compared += 1
    return compared, problems


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_pipeline_preserves_conformance_results(conformance_dir, shard):
    files = _files(conformance_dir)[shard::SHARDS]
    compared, problems = 0, []
    for path in files:
        cfg = POLICIES[zlib.crc32(path.name.encode()) % len(POLICIES)]
        n, p = _check_file(path, cfg)
        compared += n
        problems += p
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:20])
    assert compared >= 2 * len(files)  # nearly every file is compared (a few the interpreter cannot run)
