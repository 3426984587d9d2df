"""Convolutions as GEMMs (implicit im2col): any layout, stride, padding (also negative) and
window dilation, every knob value == the interpreter; grouped / dilated-input / reversed
convolutions stay interpreter fallbacks and say why."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import build_cpu, module_of, reference, tensor
from xltune.backends import get_backend
from xltune.backends.cpu import dot
from xltune.ir.attrs import ConvDimensionNumbers


def conv_module(n, c, o, spatial, ksize, strides, pads, rdil, in_perm, k_perm, out_perm, dt="f32",
                groups=1, ldil=None, reverse=None):
    """in/out logical dims (b, f, s0..), kernel logical (o, i, k0..), stored in the given orders."""
    nsp = len(spatial)
    in_logical = [n, c] + list(spatial)
    k_logical = [o, c // groups] + list(ksize)
    in_shape = [in_logical[p] for p in in_perm]
    k_shape = [k_logical[p] for p in k_perm]
    dn = ConvDimensionNumbers(
        input_batch_dimension=in_perm.index(0), input_feature_dimension=in_perm.index(1),
        input_spatial_dimensions=tuple(in_perm.index(2 + i) for i in range(nsp)),
        kernel_input_feature_dimension=k_perm.index(1), kernel_output_feature_dimension=k_perm.index(0),
        kernel_spatial_dimensions=tuple(k_perm.index(2 + i) for i in range(nsp)),
        output_batch_dimension=out_perm.index(0), output_feature_dimension=out_perm.index(1),
        output_spatial_dimensions=tuple(out_perm.index(2 + i) for i in range(nsp)))
    attrs = {"dimension_numbers": dn, "feature_group_count": groups, "batch_group_count": 1,
             "window_strides": tuple(strides), "padding": tuple(map(tuple, pads)),
             "rhs_dilation": tuple(rdil), "lhs_dilation": tuple(ldil or (1,) * nsp),
             "window_reversal": tuple(reverse or (False,) * nsp)}
    return module_of(lambda cmp, ps: cmp.add("convolution", ps, None, attrs, name="conv"),
                     [tensor(in_shape, dt), tensor(k_shape, dt)], "conv")


def _run(module, config=None, seed=0):
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal(p.type.shape).astype(p.type.dtype.np_dtype) for p in module.entry.params]
    want = reference(module, *args)[0]
    exe = build_cpu(module, config)
    got = exe(*args)
    tol = 1e-2 if got.dtype != np.float32 and got.dtype != np.float64 else 1e-4
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol,
                               err_msg=str(config))
    return exe


@st.composite
def conv_case(draw):
    nsp = draw(st.integers(1, 2))
    spatial = [draw(st.integers(1, 9)) for _ in range(nsp)]
    ksize = [draw(st.integers(1, 3)) for _ in range(nsp)]
    strides = [draw(st.integers(1, 3)) for _ in range(nsp)]
    rdil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    pads = [(draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in range(nsp)]
    # every output dim non-negative: padded input at least one dilated window
    for i in range(nsp):
        need = (ksize[i] - 1) * rdil[i] + 1
        have = spatial[i] + pads[i][0] + pads[i][1]
        if have < need:
            pads[i] = (pads[i][0], pads[i][1] + need - have)
    perm = lambda k: list(draw(st.permutations(range(k))))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 5)), o=draw(st.integers(1, 20)),
                spatial=spatial, ksize=ksize, strides=strides, pads=pads, rdil=rdil,
                in_perm=perm(nsp + 2), k_perm=perm(nsp + 2), out_perm=perm(nsp + 2))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=conv_case(), data=st.data())
def test_any_layout_and_window_matches_the_interpreter(case, data, monkeypatch):
    monkeypatch.setattr(dot, "THREADS_KNOB_MIN_FLOPS", 0)
    module = conv_module(**case)
    ks = get_backend("cpu").knobs(module)
    cfg = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in ks}
    exe = _run(module, cfg)
    assert exe.stats["fallback_ops"] == 0


@pytest.mark.parametrize("dt", ["f64", "f16", "bf16"])
def test_conv_element_types(dt):
    m = conv_module(2, 4, 6, [7, 6], [3, 2], [1, 2], [(1, 1), (0, 1)], [1, 1], [0, 2, 3, 1], [2, 3, 1, 0],
                    [0, 2, 3, 1], dt)
    assert _run(m).stats["fallback_ops"] == 0


def test_nhwc_conv_with_bias_relu_epilogue_is_one_kernel():
    text = """
    func.func @main(%x: tensor<2x10x10x8xf32>, %w: tensor<3x3x8x16xf32>, %b: tensor<16xf32>) -> tensor<2x10x10x16xf32> {
      %0 = stablehlo.convolution(%x, %w) dim_numbers = [b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f], window = {stride = [1, 1], pad = [[1, 1], [1, 1]]} {batch_group_count = 1 : i64, feature_group_count = 1 : i64} : (tensor<2x10x10x8xf32>, tensor<3x3x8x16xf32>) -> tensor<2x10x10x16xf32>
      %1 = stablehlo.broadcast_in_dim %b, dims = [3] : (tensor<16xf32>) -> tensor<2x10x10x16xf32>
      %2 = stablehlo.add %0, %1 : tensor<2x10x10x16xf32>
      %z = stablehlo.constant dense<0.0> : tensor<2x10x10x16xf32>
      %3 = stablehlo.maximum %2, %z : tensor<2x10x10x16xf32>
      return %3 : tensor<2x10x10x16xf32>
    }"""
    m = xltune.parse(text)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(p.type.shape).astype(np.float32) for p in m.entry.params]
    exe = xltune.compile(text, backend="cpu", config={"fusion.dot_epilogue": True})
    assert exe.stats["fallback_ops"] == 0 and exe.stats["native_kernels"] == 1, exe.stages["schedule"]
    np.testing.assert_allclose(exe(*args), reference(m, *args)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kw,why", [
    (dict(groups=2), "grouped"),
    (dict(ldil=[2, 1]), "lhs (input) dilation"),
    (dict(reverse=[True, False]), "window reversal"),
])
def test_unsupported_convolutions_fall_back_and_say_why(kw, why):
    m = conv_module(1, 4, 4, [5, 5], [2, 2], [1, 1], [(0, 0), (0, 0)], [1, 1], [0, 1, 2, 3], [0, 1, 2, 3],
                    [0, 1, 2, 3], **kw)
    exe = _run(m)
    assert exe.stats["fallback_ops"] == 1
    assert any(why in f for f in exe.stats["fallbacks"]), exe.stats["fallbacks"]
