"""Fusion: the kernel kinds, the policies and per-edge knobs, refusals and their reasons."""
from __future__ import annotations

import pytest

from xltune.config import Config
from xltune.ir import Computation, tensor
from xltune.passes import pipeline_knobs

from passes_irbuild import B, check_semantics, fusions, gelu, kinds, layernorm, mlp, softmax


def region_ops(f):
    return [i.opcode for i in f.regions[0].instructions if i.opcode not in ("parameter", "constant")]


def test_gelu_is_one_loop_kernel():
    m, stages, stats = check_semantics(gelu())
    assert kinds(m) == ["loop"] and stats["kernels"] == 1
    f = fusions(m)[0]
    assert f.attrs["name"] == f"fusion.{m.entry.outputs[0].regions[0].outputs[0].name}"
    assert [o.opcode for o in f.operands] == ["parameter"]          # scalar constants are copied in


def test_softmax_and_layernorm_are_one_row_kernel():
    for build in (softmax, layernorm):
        m, stages, stats = check_semantics(build())
        assert kinds(m) == ["row"], stages["fusion_log"]
        f = fusions(m)[0]
        assert region_ops(f).count("reduce") == 2
        assert all(o.opcode == "parameter" for o in f.operands)


def test_softmax_without_row_fusion_uses_input_and_loop_kernels():
    m, stages, stats = check_semantics(softmax(), {"fusion.row_fusion": False})
    assert kinds(m) == ["input", "input", "loop"]
    multi = [f for f in fusions(m) if f.multi]
    assert len(multi) == 1 and multi[0].attrs["kind"] == "input"   # exp(x - max) is stored once, summed once
    assert "fusion.row_fusion is off" in stages["fusion_log"]
    m, stages, _ = check_semantics(softmax(), {"fusion.row_fusion": False, "fusion.multi_output": False})
    assert len(fusions(m)) == 4 and not any(f.multi for f in fusions(m))
    assert "multi-output fusion is off" in stages["fusion_log"]


def test_mlp_is_one_library_kernel_with_its_epilogue():
    m, _, _ = check_semantics(mlp())
    assert kinds(m) == ["library"]
    assert region_ops(fusions(m)[0])[0] == "dot_general"
    m, stages, _ = check_semantics(mlp(), {"fusion.dot_epilogue": False})
    assert kinds(m) == ["library", "loop"]
    lib = [f for f in fusions(m) if f.attrs["kind"] == "library"][0]
    assert region_ops(lib) == ["dot_general"]
    assert "dot epilogue fusion is off (fusion.dot_epilogue)" in stages["fusion_log"]


def test_sumsq_is_one_input_fusion_and_fuse_into_reduction_is_a_policy():
    b = B()
    x = b.param((64,))
    mod = b.ret(b.reduce(b.op("multiply", x, x), (0,)))
    m, _, _ = check_semantics(mod)
    assert kinds(m) == ["input"]
    m, stages, _ = check_semantics(mod, {"fusion.fuse_into_reduction": False})
    assert kinds(m) == ["input", "loop"]
    assert "fusion.fuse_into_reduction is off" in stages["fusion_log"]


def test_reduction_epilogue():
    b = B()
    x = b.param((8, 16))
    s = b.reduce(x, (1,))
    mod = b.ret(b.op("sqrt", b.op("multiply", s, b.splat(0.5, (8,)))))
    m, _, _ = check_semantics(mod)
    assert kinds(m) == ["input"]
    m, stages, _ = check_semantics(mod, {"fusion.reduction_epilogue": False})
    assert kinds(m) == ["input", "loop"]


def test_no_reduce_into_reduce_and_row_needs_trailing_dims():
    b = B()
    x = b.param((8, 16))
    s0 = b.reduce(x, (0,))                                # reduces the leading dimension
    y = b.op("subtract", x, b.bcast(s0, (8, 16), (1,)))   # broadcast back
    m, stages, _ = check_semantics(b.ret(y))
    assert len(fusions(m)) == 2
    assert "to be trailing dimensions" in stages["fusion_log"]


def test_sibling_fusion_reads_a_shared_input_once():
    b = B()
    x = b.param((8, 16))
    mod = b.ret(b.reduce(x, (1,), "add"), b.reduce(x, (1,), "maximum"))
    m, stages, _ = check_semantics(mod)
    assert kinds(m) == ["input"] and fusions(m)[0].multi
    assert "both read %arg0" in stages["fusion_log"]
    m, _, _ = check_semantics(mod, {"fusion.sibling": False})
    assert kinds(m) == ["input", "input"]


def test_loop_outputs_of_different_shapes_are_refused():
    b = B()
    x = b.param((4, 8))
    e = b.op("exponential", x)
    t = b.op("transpose", e, permutation=(1, 0))
    m, stages, _ = check_semantics(b.ret(e, t))
    assert "different shapes" in stages["fusion_log"] and len(fusions(m)) == 2


def test_cheap_producers_are_duplicated_and_that_is_a_policy():
    b = B()
    x = b.param((8, 16))
    sh = b.op("add", x, b.splat(1.0, (8, 16)))
    out1 = b.reduce(sh, (1,))                      # an input fusion reads sh
    out2 = b.op("transpose", sh, permutation=(1, 0))  # and a loop of another shape reads it
    mod = b.ret(out1, out2)
    m, stages, _ = check_semantics(mod)
    assert len(fusions(m)) == 2 and "computes its own copy" in stages["fusion_log"]
    m2, stages2, _ = check_semantics(mod, {"fusion.duplicate_cheap_producers": False, "fusion.multi_output": False})
    assert len(fusions(m2)) == 3


def test_expensive_producer_into_broadcast_is_a_contested_edge_with_a_knob():
    b = B()
    v = b.param((8,))
    x = b.param((8, 16))
    e = b.op("exponential", v)
    y = b.op("multiply", x, b.bcast(e, (8, 16), (0,)))
    mod = b.ret(y)
    m, stages, _ = check_semantics(mod)
    assert len(fusions(m)) == 2
    assert "would recompute expensive" in stages["fusion_log"]
    ks = {k.name: k for k in pipeline_knobs(mod, "simplify,fusion,buffers", Config())}
    edge = [k for k in ks if k.startswith("fusion.edge.")]
    assert len(edge) == 1 and ks[edge[0]].default is False
    m, stages, _ = check_semantics(mod, {edge[0]: True})
    assert len(fusions(m)) == 1 and "forced by" in stages["fusion_log"]


def test_a_multi_output_edge_can_be_switched_off():
    m0, stages0, _ = check_semantics(softmax(), {"fusion.row_fusion": False})
    ks = [k for k in pipeline_knobs(softmax(), "simplify,fusion,buffers", Config({"fusion.row_fusion": False}))
          if k.name.startswith("fusion.edge.")]
    assert ks and all(k.default is True for k in ks)
    m, stages, _ = check_semantics(softmax(), {"fusion.row_fusion": False, ks[0].name: False})
    assert f"disabled by {ks[0].name}" in stages["fusion_log"]
    assert len(fusions(m)) == 4


def test_max_ops_per_kernel_limits_kernel_size():
    b = B()
    x = b.param((16,))
    y = x
    for i in range(20):
        y = b.op("sine" if i % 2 else "cosine", y)
    m, stages, _ = check_semantics(b.ret(y), {"fusion.max_ops_per_kernel": 8})
    assert len(fusions(m)) == 3
    assert all(len(region_ops(f)) <= 8 for f in fusions(m))
    assert "fusion.max_ops_per_kernel" in stages["fusion_log"]


def test_no_cycles_through_unfused_ops():
    # a -> sort -> b, and a -> b: fusing a into b's kernel would need sort's result before a's
    b = B()
    x = b.param((8,))
    a = b.op("exponential", x)
    body = Computation("cmp")
    p0 = body.add_parameter(tensor((), "f32"))
    p1 = body.add_parameter(tensor((), "f32"))
    body.set_outputs([body.add("compare", (p0, p1), None, {"comparison_direction": "LT"})])
    s = b.c.add("sort", (a,), None, {"dimension": 0, "is_stable": True}, [body])
    y = b.op("add", a, s)
    m, stages, _ = check_semantics(b.ret(y))
    assert "sort" in [i.opcode for i in m.entry.instructions]
    assert len(fusions(m)) == 2


def test_fused_module_contract():
    """docs/passes.md: the entry holds parameters, big constants, tuple glue, fusions and unfused ops;
    region parameters match the operands; names are fusion.<root>."""
    for build in (softmax, layernorm, gelu, mlp):
        m, stages, _ = check_semantics(build(), {"fusion.row_fusion": False})
        for inst in m.entry.instructions:
            assert inst.opcode in ("parameter", "constant", "fusion", "get_tuple_element", "tuple")
            if inst.opcode == "constant":
                assert inst.type.size > 1
            if inst.opcode == "fusion":
                r = inst.regions[0]
                assert [p.type for p in r.params] == [o.type for o in inst.operands]
                assert inst.attrs["name"] == inst.name == f"fusion.{r.outputs[-1].name}"
                assert inst.attrs["kind"] in ("loop", "input", "row", "library")
        assert "fused" in stages and "fusion_log" in stages


@pytest.mark.parametrize("cfg", [
    {}, {"fusion.row_fusion": False}, {"fusion.multi_output": False, "fusion.row_fusion": False},
    {"fusion.max_ops_per_kernel": 8}, {"fusion.dot_epilogue": True}, {"fusion.sibling": False},
    {"fusion.duplicate_cheap_producers": False},
])
def test_every_policy_gives_the_interpreters_answer(cfg):
    for build in (softmax, layernorm, gelu, mlp):
        check_semantics(build(), cfg, seed=1)
