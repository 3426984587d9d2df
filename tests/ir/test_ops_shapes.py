"""Shape rules: Computation.add infers result types (StableHLO's rules) and rejects bad combinations."""
from __future__ import annotations

import numpy as np
import pytest

from xltune.errors import VerificationError
from xltune.ir import (Computation, ConvDimensionNumbers, DotDimensionNumbers, GatherDimensionNumbers,
                       ScatterDimensionNumbers, tensor)
from xltune.ir.ops import OPS
from xltune.ir.types import TOKEN, TupleType


@pytest.fixture
def c():
    return Computation("main")


def _p(c, shape, dt="f32"):
    return c.add_parameter(tensor(shape, dt))


def _scalar_region(opcode, dt, n=2):
    r = Computation("body")
    ps = [r.add_parameter(tensor((), dt)) for _ in range(n)]
    r.set_outputs([r.add(opcode, ps[:2])])
    return r


def test_every_op_has_a_shape_rule_and_an_evaluation():
    assert [n for n, d in OPS.items() if d.infer is None] == []
    assert [n for n, d in OPS.items() if d.evaluate is None] == []


def test_elementwise(c):
    x, y = _p(c, (2, 3)), _p(c, (2, 3))
    assert c.add("add", [x, y]).type == tensor((2, 3), "f32")
    assert c.add("compare", [x, y], attrs={"comparison_direction": "LT"}).type == tensor((2, 3), "i1")
    assert c.add("complex", [x, y]).type == tensor((2, 3), "complex<f32>")
    z = c.add("complex", [x, y])
    assert c.add("abs", [z]).type == tensor((2, 3), "f32")
    assert c.add("real", [z]).type == tensor((2, 3), "f32")
    assert c.add("is_finite", [x]).type == tensor((2, 3), "i1")
    assert c.add("clamp", [_p(c, ()), x, _p(c, ())]).type == x.type
    assert c.add("select", [_p(c, (), "i1"), x, y]).type == x.type
    with pytest.raises(VerificationError, match="same shape"):
        c.add("add", [x, _p(c, (3, 2))])
    with pytest.raises(VerificationError, match="element type"):
        c.add("add", [x, _p(c, (2, 3), "f64")])
    with pytest.raises(VerificationError, match="not supported"):
        c.add("shift_left", [x, y])
    with pytest.raises(VerificationError, match="not supported"):
        c.add("popcnt", [x])


def test_ops_needing_a_result_type_say_so(c):
    x = _p(c, (4,))
    for opcode, operands, attrs in (("reshape", [x], {}), ("convert", [x], {}),
                                    ("broadcast_in_dim", [x], {"broadcast_dimensions": (0,)}),
                                    ("iota", [], {"iota_dimension": 0}), ("bitcast_convert", [x], {}),
                                    ("custom_call", [x], {"call_target_name": "f"})):
        with pytest.raises(VerificationError, match="result type cannot be inferred"):
            c.add(opcode, operands, attrs=attrs)


def test_data_movement(c):
    x = _p(c, (2, 3, 4))
    assert c.add("transpose", [x], attrs={"permutation": (2, 0, 1)}).type.shape == (4, 2, 3)
    assert c.add("slice", [x], attrs={"start_indices": (0, 1, 0), "limit_indices": (2, 3, 4),
                                      "strides": (1, 1, 3)}).type.shape == (2, 2, 2)
    pv = c.add("constant", attrs={"value": np.array(0, np.float32)})
    assert c.add("pad", [x, pv], attrs={"edge_padding_low": (1, -1, 0), "edge_padding_high": (0, 0, 2),
                                        "interior_padding": (1, 0, 1)}).type.shape == (4, 2, 9)
    assert c.add("concatenate", [x, x], attrs={"dimension": 2}).type.shape == (2, 3, 8)
    i = _p(c, (), "i32")
    assert c.add("dynamic_slice", [x, i, i, i], attrs={"slice_sizes": (1, 2, 3)}).type.shape == (1, 2, 3)
    assert c.add("dynamic_update_slice", [x, _p(c, (1, 1, 1)), i, i, i]).type == x.type
    assert c.add("broadcast", [x], attrs={"broadcast_sizes": (5,)}).type.shape == (5, 2, 3, 4)
    assert c.add("get_dimension_size", [x], attrs={"dimension": 1}).type == tensor((), "i32")
    with pytest.raises(VerificationError, match="permutation"):
        c.add("transpose", [x], attrs={"permutation": (0, 0, 1)})
    with pytest.raises(VerificationError, match="bad slice"):
        c.add("slice", [x], attrs={"start_indices": (0, 0, 0), "limit_indices": (3, 3, 4), "strides": (1, 1, 1)})


def test_gather_and_scatter(c):
    x = _p(c, (5, 6, 7))
    idx = _p(c, (4, 2), "i32")
    dn = GatherDimensionNumbers(offset_dims=(1, 2), collapsed_slice_dims=(0,), start_index_map=(0, 1),
                                index_vector_dim=1)
    assert c.add("gather", [x, idx], attrs={"dimension_numbers": dn, "slice_sizes": (1, 2, 7)}).type.shape == (4, 2, 7)
    sdn = ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0, 1),
                                  scatter_dims_to_operand_dims=(0, 1), index_vector_dim=1)
    s = c.add("scatter", [x, idx, _p(c, (4, 7))], attrs={"scatter_dimension_numbers": sdn},
              regions=[_scalar_region("add", "f32")])
    assert s.type == x.type and not s.multi
    with pytest.raises(VerificationError, match="update scatter dimensions"):
        c.add("scatter", [x, idx, _p(c, (3, 7))], attrs={"scatter_dimension_numbers": sdn},
              regions=[_scalar_region("add", "f32")])


def test_reductions_and_windows(c):
    x = _p(c, (8, 6))
    init = c.add("constant", attrs={"value": np.array(0, np.float32)})
    r = c.add("reduce", [x, init], attrs={"dimensions": (0,)}, regions=[_scalar_region("add", "f32")])
    assert r.type == tensor((6,), "f32") and not r.multi
    rw = c.add("reduce_window", [x, init], regions=[_scalar_region("maximum", "f32")],
               attrs={"window_dimensions": (3, 2), "window_strides": (2, 2), "padding": ((1, 0), (0, 0)),
                      "base_dilations": (1, 2), "window_dilations": (2, 1)})
    # rows: padded 9, window (3-1)*2+1 = 5 -> (9-5)//2+1 = 3; cols: dilated 11, window 2 -> (11-2)//2+1 = 5
    assert rw.type.shape == (3, 5)
    s = c.add("sort", [x, _p(c, (8, 6), "i32")], attrs={"dimension": 0},
              regions=[_cmp_region()])
    assert s.multi and s.type == TupleType((tensor((8, 6), "f32"), tensor((8, 6), "i32")))
    tk = c.add("top_k", [x], attrs={"k": 2})
    assert tk.multi and tk.type == TupleType((tensor((8, 2), "f32"), tensor((8, 2), "i32")))


def _cmp_region():
    r = Computation("cmp")
    ps = [r.add_parameter(tensor((), dt)) for dt in ("f32", "f32", "i32", "i32")]
    r.set_outputs([r.add("compare", ps[:2], attrs={"comparison_direction": "LT"})])
    return r


def test_contractions(c):
    lhs, rhs = _p(c, (2, 3, 4)), _p(c, (2, 4, 5))
    dn = DotDimensionNumbers((0,), (0,), (2,), (1,))
    assert c.add("dot_general", [lhs, rhs], attrs={"dot_dimension_numbers": dn}).type.shape == (2, 3, 5)
    with pytest.raises(VerificationError, match="contracting dimension sizes differ"):
        c.add("dot_general", [lhs, rhs], attrs={"dot_dimension_numbers": DotDimensionNumbers((0,), (0,), (1,), (1,))})
    x, k = _p(c, (1, 8, 8, 3)), _p(c, (3, 3, 3, 16))
    dnc = ConvDimensionNumbers(0, 3, (1, 2), 2, 3, (0, 1), 0, 3, (1, 2))
    conv = c.add("convolution", [x, k], attrs={"dimension_numbers": dnc, "feature_group_count": 1,
                                               "batch_group_count": 1, "padding": ((1, 1), (1, 1)),
                                               "window_strides": (2, 2)})
    assert conv.type.shape == (1, 4, 4, 16)


def test_control_and_misc(c):
    x = _p(c, (3,))
    fft = c.add("fft", [_p(c, (4, 8))], attrs={"fft_type": "RFFT", "fft_length": (8,)})
    assert fft.type == tensor((4, 5), "complex<f32>")
    assert c.add("fft", [fft], attrs={"fft_type": "IRFFT", "fft_length": (8,)}).type == tensor((4, 8), "f32")
    assert c.add("tuple", [x, x]).type == TupleType((x.type, x.type))
    assert c.add("after_all", []).type == TOKEN
    assert c.add("replica_id", []).type == tensor((), "ui32")
    assert c.add("constant", attrs={"value": np.zeros((2, 2), np.int16)}).type == tensor((2, 2), "i16")
    chk = c.add("expect_eq", [x, x])
    assert chk.multi and chk.type == TupleType(())
