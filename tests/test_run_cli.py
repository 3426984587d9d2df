"""`xltune run`: compile, run on random inputs, print stats and stages."""
from __future__ import annotations

from importlib import resources

import numpy as np

from xltune import cli
from xltune.ir.types import tensor
from xltune.run_cli import random_inputs


def _example(name):
    return str(resources.files("xltune.examples").joinpath(f"{name}.mlir"))


def test_run_prints_stats_stages_and_checks(capsys):
    assert cli.main(["run", _example("softmax"), "--check", "--stage", "fusion_log"]) == 0
    out = capsys.readouterr().out
    assert "output 0: shape (2048, 512) float32" in out
    assert "kernels=1" in out and "fallback_ops=0" in out
    assert "max relative error vs the interpreter" in out
    assert "---- fusion_log ----" in out and "(row)" in out


def test_run_unknown_stage_and_missing_file(capsys, tmp_path):
    assert cli.main(["run", _example("tiny_add"), "--stage", "nope"]) == 1
    assert "no stage 'nope'" in capsys.readouterr().err
    assert cli.main(["run", str(tmp_path / "missing.mlir")]) == 1
    assert "cannot read the program" in capsys.readouterr().err


def test_random_inputs_follow_the_types():
    a, b, c = random_inputs([tensor((3, 4), "f32"), tensor((5,), "i32"), tensor((2,), "i1")])
    assert a.dtype == np.float32 and a.shape == (3, 4)
    assert b.dtype == np.int32 and c.dtype == np.bool_
    again = random_inputs([tensor((3, 4), "f32")])[0]
    assert np.array_equal(a, again)  # argument i always comes from default_rng(seed + i)
