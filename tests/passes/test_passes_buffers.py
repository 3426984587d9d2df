"""Buffer assignment: liveness, arena reuse, views, in-place updates, outputs; and the plan's invariants."""
from __future__ import annotations

import numpy as np

from xltune.ir import tensor

from passes_irbuild import B, check_plan, check_semantics, optimized, softmax


def in_(m, inst):
    """The instruction of the optimized copy m that has inst's name."""
    return next(i for i in m.entry.instructions if i.name == inst.name)


def test_unfused_chain_reuses_and_updates_in_place():
    b = B()
    x = b.param((64, 64))
    a = b.op("exponential", x)
    t = b.op("transpose", a, permutation=(1, 0))
    c = b.op("negate", t)                 # elementwise on a dying temp: in place
    d = b.op("transpose", c, permutation=(1, 0))
    e = b.op("sqrt", b.op("abs", d))
    m, stages, stats = optimized(b.ret(e), "buffers")
    plan = m.buffer_plan
    check_plan(plan)
    c, t = in_(m, c), in_(m, t)
    assert plan.slot(c).kind == "alias" and plan.slot(c).reason == "in-place" and plan.slot(c).target == (t, 0)
    size = 64 * 64 * 4
    assert plan.arena_bytes <= 2 * size < plan.naive_bytes
    assert stats["peak_bytes"] == plan.peak_bytes and stats["naive_bytes"] == plan.naive_bytes
    assert "in-place" in stages["buffers"]


def test_params_constants_and_outputs_are_never_overwritten():
    b = B()
    x = b.param((16,))
    y = b.op("negate", x)                  # x is a parameter: not in place
    z = b.op("exponential", y)             # y is an output: not in place
    m, _, _ = optimized(b.ret(y, z), "buffers")
    plan = m.buffer_plan
    check_plan(plan)
    y, z = in_(m, y), in_(m, z)
    assert plan.slot(y).kind == "output" and plan.slot(y).index == 0
    assert plan.slot(z).kind == "output" and plan.slot(z).index == 1


def test_views_tuple_elements_and_copied_outputs():
    b = B()
    x = b.param((4, 4))
    r = b.op("reshape", b.op("exponential", x), type=tensor((16,), "f32"))
    m, _, _ = optimized(b.ret(r, x, r), "buffers")
    plan = m.buffer_plan
    check_plan(plan)
    r = in_(m, r)
    e = r.operands[0]
    assert plan.slot(r).kind == "alias" and plan.slot(r).reason == "view"
    assert plan.slot(e).kind == "output"                      # computed straight into output 0
    assert plan.output_sources[0] == (e, 0)
    assert plan.slots[plan.output_sources[1]].kind == "param"  # returned parameter: copied
    assert plan.output_sources[2] == (e, 0)                   # returned twice: copied
    assert "output 1 is copied from %arg0" in str(plan)


def test_multi_output_fusion_elements_alias_the_fusion():
    m, stages, _ = check_semantics(softmax(), {"fusion.row_fusion": False})
    plan = m.buffer_plan
    check_plan(plan)
    multi = [i for i in m.entry.instructions if i.opcode == "fusion" and i.multi][0]
    gtes = [u for u in multi.users if u.opcode == "get_tuple_element"]
    assert gtes and all(plan.slot(g).kind == "alias" and plan.slot(g).target[0] is multi for g in gtes)


def test_loop_fusion_in_place_only_when_elementwise():
    b = B()
    x = b.param((32, 32))
    a = b.reduce(x, (1,))                                   # its own kernel
    t = b.op("exponential", b.bcast(a, (32, 32), (0,)))       # temp
    u = b.op("transpose", t, permutation=(1, 0))
    v = b.op("add", u, b.splat(1.0, (32, 32)))
    m, stages, _ = check_semantics(b.ret(v), {"fusion.row_fusion": False})
    check_plan(m.buffer_plan)


def test_dynamic_update_slice_updates_in_place():
    b = B()
    x = b.param((16,))
    upd = b.param((4,))
    y = b.op("exponential", x)
    i = b.const(3, dtype="i32")
    d = b.c.add("dynamic_update_slice", (y, upd, i), None)
    m, stages, _ = check_semantics(b.ret(d), spec="buffers")
    plan = m.buffer_plan
    check_plan(plan)
    assert plan.slot(in_(m, d)).kind == "output"   # outputs are caller-allocated...
    b = B()
    x = b.param((16,))
    upd = b.param((4,))
    d = b.c.add("dynamic_update_slice", (b.op("exponential", x), upd, b.const(3, dtype="i32")), None)
    out = b.op("negate", d)
    m, stages, _ = check_semantics(b.ret(out), spec="buffers")
    plan = m.buffer_plan
    check_plan(plan)
    assert plan.slot(in_(m, d)).reason == "in-place"   # ...a temporary is updated where it is


def test_fused_workload_plans():
    m, _, stats = check_semantics(softmax(64, 128))
    plan = m.buffer_plan
    assert plan.arena_bytes == 0 and plan.peak_bytes == 2 * 64 * 128 * 4
    assert stats["naive_bytes_unfused"] > 3 * plan.peak_bytes
    assert np.isclose(plan.peak_bytes, stats["peak_bytes"])
