"""The codegen tables themselves: coverage of the op catalog, reshape grouping, loop metadata."""
from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from llvmlite import ir

from xltune.codegen.indexing import MOVEMENT, reshape_groups
from xltune.codegen.loops import for_range, loop_metadata
from xltune.codegen.scalar import LOWERINGS
from xltune.ir.ops import DATA_MOVEMENT, ELEMENTWISE, OPS

# Elementwise ops with no native lowering (they run through the interpreter when met).
NO_LOWERING = {"digamma", "polygamma", "zeta", "bessel_i1e"}


def test_every_elementwise_op_has_a_lowering():
    missing = {n for n, d in OPS.items() if d.category == ELEMENTWISE} - set(LOWERINGS) - NO_LOWERING
    assert not missing, f"elementwise ops without a scalar lowering: {sorted(missing)}"


def test_data_movement_ops_have_index_maps():
    movement = {n for n, d in OPS.items() if d.category == DATA_MOVEMENT}
    # dynamic_pad has a shape operand form we do not emit; everything else maps indices
    assert movement - set(MOVEMENT) <= {"dynamic_pad"}, sorted(movement - set(MOVEMENT))


@given(st.lists(st.integers(1, 6), min_size=0, max_size=5), st.data())
def test_reshape_groups_partition_dims_with_equal_products(src, data):
    total = math.prod(src)
    # a random factorization of the same total
    dst = []
    rest = total
    while rest > 1 and len(dst) < 5:
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        d = data.draw(st.sampled_from(divs))
        dst.append(d)
        rest //= d
    if rest > 1:
        dst.append(rest)
    dst += [1] * data.draw(st.integers(0, 2))
    groups = reshape_groups(src, dst)
    flat_s = [i for g in groups for i in g[0]]
    flat_d = [j for g in groups for j in g[1]]
    assert flat_s == list(range(len(src))) and flat_d == list(range(len(dst)))
    for si, dj in groups:
        assert math.prod(src[i] for i in si) == math.prod(dst[j] for j in dj)


def test_loop_metadata_is_self_referential_and_distinct():
    m = ir.Module()
    f = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "f")
    b = ir.IRBuilder(f.append_basic_block())
    md = loop_metadata(m, vector_width=8, interleave=2)
    with for_range(b, 0, 10, metadata=md):
        pass
    b.ret_void()
    text = str(m)
    assert "!llvm.loop" in text and "distinct !{ !" in text
    assert '"llvm.loop.vectorize.width", i32 8' in text and '"llvm.loop.interleave.count", i32 2' in text
    assert loop_metadata(m) is None
