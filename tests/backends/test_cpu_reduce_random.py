"""Random reduction programs (shapes, reduced dims, body ops, producers, epilogues, broadcasts
back along the row) through the whole pipeline, with random fusion and kernel knobs, against the
interpreter."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import reference


def _t(shape, dt="f32"):
    return f"tensor<{'x'.join(map(str, shape))}x{dt}>" if shape else f"tensor<{dt}>"


@st.composite
def programs(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.sampled_from([1, 3, 8, 17, 64])) for _ in range(rank))
    dims = sorted(draw(st.sets(st.integers(0, rank - 1), min_size=1)))
    kept = [d for d in range(rank) if d not in dims]
    out = tuple(shape[d] for d in kept)
    op = draw(st.sampled_from(["add", "maximum", "minimum"]))
    init = {"add": "0.0", "maximum": "0xFF800000", "minimum": "0x7F800000"}[op]
    producer = draw(st.sampled_from(["x", "mul", "exp", "abs"]))
    T, R = _t(shape), _t(out)
    lines = [f"%i = stablehlo.constant dense<{init}> : tensor<f32>"]
    src = "%x"
    if producer == "mul":
        lines.append(f"%p = stablehlo.multiply %x, %y : {T}")
        src = "%p"
    elif producer == "exp":
        lines.append(f"%p = stablehlo.exponential %y : {T}")
        src = "%p"
    elif producer == "abs":
        lines.append(f"%p = stablehlo.abs %x : {T}")
        src = "%p"
    lines.append(f"%r = stablehlo.reduce({src} init: %i) applies stablehlo.{op} across dimensions = {dims} : "
                 f"({T}, tensor<f32>) -> {R}")
    outs, types = ["%r"], [R]
    if draw(st.booleans()):
        lines.append(f"%c = stablehlo.constant dense<0.5> : {R}")
        lines.append(f"%e = stablehlo.multiply %r, %c : {R}")
        outs.append("%e")
        types.append(R)
    if draw(st.booleans()):       # the result broadcast back: a row kernel when dims are trailing
        lines.append(f"%b = stablehlo.broadcast_in_dim %r, dims = {kept} : ({R}) -> {T}")
        lines.append(f"%s = stablehlo.subtract %x, %b : {T}")
        outs.append("%s")
        types.append(T)
    body = "\n  ".join(lines)
    text = f"""func.func @main(%x: {T}, %y: {T}) -> ({", ".join(types)}) {{
  {body}
  return {", ".join(outs)} : {", ".join(types)}
}}"""
    return text, shape


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prog=programs(), data=st.data())
def test_random_reductions_and_configs(prog, data):
    text, shape = prog
    knobs = xltune.knobs(text, backend="cpu")
    config = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in knobs
              if k.name.startswith("fusion.") and not k.name.startswith("fusion.edge")}
    knobs = xltune.knobs(text, backend="cpu", config=config)
    config.update({k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in knobs
                   if k.name.startswith(("cpu.", "fusion.edge"))})
    rng = np.random.default_rng(len(text))
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.standard_normal(shape).astype(np.float32)
    exe = xltune.compile(text, backend="cpu", config=config, use_tuned=False)
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    got = exe(x, y)
    got = list(got) if isinstance(got, tuple) else [got]
    scale = float(np.exp(np.abs(y)).sum() + np.abs(x * y).sum() + np.abs(x).sum()) * 1e-6 + 1e-6
    for g, w in zip(got, reference(xltune.parse(text), x, y)):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=1e-5, atol=scale)
