"""Pass, Pipeline, the spec grammar, stages/stats recording, verification, pipeline_knobs."""
from __future__ import annotations

import pytest

from xltune.config import Config
from xltune.errors import VerificationError
from xltune.passes import (FixedPoint, Pass, Pipeline, PipelineSpecError, pipeline_knobs, register,
                           run_pipeline)
from xltune.passes.pipeline import PASSES

from passes_irbuild import B, gelu, optimized, softmax


def test_spec_aliases_and_fixed_point():
    p = Pipeline.parse("simplify,fusion,buffers")
    assert isinstance(p.items[0], FixedPoint)
    assert [q.name for q in p.leaf_passes()] == ["dce", "cse", "constant-folding", "algebraic", "fusion", "buffers"]
    assert str(p) == "fixed-point(dce,cse,constant-folding,algebraic),fusion,buffers"
    q = Pipeline.parse(" fixed-point<3>( dce , cse ) , buffers ")
    assert q.items[0].rounds == 3 and str(q) == "fixed-point<3>(dce,cse),buffers"


@pytest.mark.parametrize("spec, words", [
    ("simplify,,fusion", "expected 'name'"),
    ("nope", "unknown pass 'nope'"),
    ("fixed-point(dce", "expected ')'"),
    ("fixed-point<0>(dce)", "at least one round"),
    ("dce)", "unexpected ')'"),
    ("dce;cse", "unexpected"),
])
def test_spec_errors_say_where(spec, words):
    with pytest.raises(PipelineSpecError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Pipeline.parse(spec)


def test_stages_only_for_passes_that_changed_something():
    m, stages, stats = optimized(softmax())
    assert "algebraic" in stages            # broadcast chains were composed
    assert "constant-folding" not in stages  # nothing to fold
    assert list(stages)[-3:] == ["fusion_log", "fused", "buffers"]
    assert set(stats["pass_seconds"]) == {"dce", "cse", "constant-folding", "algebraic", "fusion", "buffers"}
    assert all(r.keys() == {"pass", "seconds", "changed"} for r in stats["passes"])
    for key in ("kernels", "peak_bytes", "naive_bytes", "naive_bytes_unfused", "arena_bytes"):
        assert isinstance(stats[key], int)
    assert stats["fixed_point_rounds"] and stats["kernels"] == 1


def test_fixed_point_reaches_a_fixed_point():
    # x + 0 + 0 ... needs several rounds of algebraic + dce
    b = B()
    x = b.param((4,))
    y = x
    for _ in range(5):
        y = b.op("add", y, b.splat(0.0, (4,)))
    m, _, stats = optimized(b.ret(y), "simplify")
    assert m.entry.outputs[0] is m.entry.params[0]
    assert len(m.entry.instructions) == 1


def test_rounds_are_capped():
    class Flip(Pass):
        name = "test-flip"

        def run(self, module, config, ctx):
            return True  # claims to change every time
    register(Flip)
    try:
        stats = {}
        run_pipeline(gelu(), "fixed-point<4>(test-flip)", {}, {}, stats)
        assert stats["fixed_point_rounds"] == [4] and stats["warnings"]
    finally:
        PASSES.pop("test-flip")


def test_verifier_catches_a_broken_pass():
    class Breaker(Pass):
        name = "test-breaker"

        def run(self, module, config, ctx):
            comp = module.entry
            inst = comp.instructions[-1]
            comp.instructions.remove(inst)          # users now read an instruction not in the list
            comp.instructions.insert(len(comp.params), inst)
            return True
    register(Breaker)
    try:
        with pytest.raises(VerificationError, match="after pass 'test-breaker'"):
            run_pipeline(softmax(), "test-breaker", {}, {}, {}, verify=True)
        run_pipeline(softmax(), "test-breaker", {}, {}, {}, verify=False)  # unchecked: no error here
    finally:
        PASSES.pop("test-breaker")


def test_pipeline_knobs_lists_fusion_knobs_without_touching_the_module():
    m = softmax()
    before = len(m.entry.instructions)
    ks = pipeline_knobs(m, "simplify,fusion,buffers", Config())
    names = [k.name for k in ks]
    assert len(m.entry.instructions) == before
    for n in ("fusion.row_fusion", "fusion.fuse_into_reduction", "fusion.duplicate_cheap_producers",
              "fusion.max_ops_per_kernel", "fusion.multi_output", "fusion.dot_epilogue"):
        assert n in names
    assert len(names) == len(set(names))
    for k in ks:
        assert k.default in k.choices and k.owner == "fusion" and k.doc
    assert pipeline_knobs(m, "simplify", Config()) == []


def test_bad_config_value_is_reported():
    from xltune.config import ConfigError
    with pytest.raises(ConfigError, match="fusion.row_fusion"):
        optimized(softmax(), config={"fusion.row_fusion": "yes"})


def test_compile_exposes_stages_stats_and_knobs(workloads_dir):
    import xltune
    text = (workloads_dir / "softmax.cpu.mlir").read_text()
    exe = xltune.compile(text, backend="cpu", use_tuned=False)
    for stage in ("input", "hlo", "fusion_log", "fused", "buffers"):
        assert stage in exe.stages
    assert list(exe.stages).index("fused") < list(exe.stages).index("buffers")
    for key in ("ops_before", "ops_after", "kernels", "peak_bytes", "naive_bytes", "compile_seconds",
                "pass_seconds"):
        assert key in exe.stats, key
    assert set(exe.stats["pass_seconds"]) >= {"dce", "cse", "constant-folding", "algebraic", "fusion", "buffers"}
    assert exe.module.buffer_plan is not None
    names = [k.name for k in xltune.knobs(text, "cpu")]
    assert "fusion.row_fusion" in names and "fusion.dot_epilogue" in names
    assert xltune.knobs(text, "interpreter") == []
