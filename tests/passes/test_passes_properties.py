"""Hypothesis: random graphs x random Configs give the unoptimized interpreter's answer, and every
buffer plan keeps live temporaries apart."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xltune.config import Config
from xltune.interpreter import evaluate
from xltune.ir import tensor
from xltune.passes import pipeline_knobs
from xltune.passes.fusion_plan import global_knobs

from passes_irbuild import B, assert_same, check_plan, optimized, random_args

UNARY = ["negate", "exponential", "tanh", "abs", "sine", "logistic", "floor"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "divide"]
SPLATS = [0.0, 1.0, 2.0, 0.5, -1.0]
SPEC = "simplify,fusion,buffers"


@st.composite
def graphs(draw):
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    b = B()
    pool = [b.param((n, m))]
    if draw(st.booleans()):
        pool.append(b.param((n,)))
    if draw(st.booleans()):
        pool.append(b.param((m,)))

    def pick(shape=None):
        cands = [v for v in pool if shape is None or v.type.shape == shape]
        return draw(st.sampled_from(cands)) if cands else None

    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["unary", "binary", "splat", "bcast", "reduce", "transpose", "reshape",
                                     "select", "convert", "normalize", "normalize", "dot"]))
        x = pick()
        s = x.type.shape
        new = None
        if kind == "unary":
            new = b.op(draw(st.sampled_from(UNARY)), x)
        elif kind == "binary":
            new = b.op(draw(st.sampled_from(BINARY)), x, pick(s))
        elif kind == "splat":
            c = b.splat(draw(st.sampled_from(SPLATS)), s)
            a, c = (x, c) if draw(st.booleans()) else (c, x)
            new = b.op(draw(st.sampled_from(BINARY)), a, c)
        elif kind == "bcast":
            if s == (n,):
                new = b.bcast(x, (n, m), (0,)) if draw(st.booleans()) else b.bcast(x, (n, 1), (0,))
            elif s == (m,):
                new = b.bcast(x, (n, m), (1,))
            elif s == (n, 1):
                new = b.bcast(x, (n, m), (0, 1))
            elif s == ():
                new = b.bcast(x, (n, m))
        elif kind == "reduce":
            how = draw(st.sampled_from(["add", "maximum", "minimum"]))
            if s == (n, m):
                new = b.reduce(x, draw(st.sampled_from([(1,), (0,), (0, 1)])), how)
            elif len(s) >= 1:
                new = b.reduce(x, tuple(range(len(s))), how)
        elif kind == "transpose" and len(s) == 2:
            new = b.op("transpose", x, permutation=(1, 0))
        elif kind == "reshape":
            if s == (n,):
                new = b.op("reshape", x, type=tensor((n, 1), "f32"))
            elif s == (n, 1):
                new = b.op("reshape", x, type=tensor((n,), "f32"))
        elif kind == "select":
            y = pick(s)
            new = b.op("select", b.op("compare", x, y, comparison_direction="LT"), x, y)
        elif kind == "normalize" and s == (n, m):
            # x op broadcast(reduce(x)): softmax/layernorm-like, over rows (a row kernel) or columns
            dim = draw(st.sampled_from([1, 1, 0]))
            r = b.reduce(x, (dim,), draw(st.sampled_from(["add", "maximum"])))
            new = b.op(draw(st.sampled_from(BINARY)), x, b.bcast(r, (n, m), (1 - dim,)))
        elif kind == "dot" and s == (n, m):
            new = b.dot(x, b.param((m, m)))    # a library kernel; its epilogue is a policy
        elif kind == "convert":
            new = b.op("convert", b.op("exponential", b.op("convert", x, type=tensor(s, "f64"))),
                       type=tensor(s, "f32"))
        if new is not None:
            pool.append(new)
    outs = [pool[-1]] + draw(st.lists(st.sampled_from(pool), max_size=2))
    return b.ret(*outs)


@st.composite
def configs(draw, module):
    vals = {k.name: draw(st.sampled_from(k.choices)) for k in global_knobs() if draw(st.booleans())}
    edges = [k for k in pipeline_knobs(module, SPEC, Config(vals)) if k.name.startswith("fusion.edge.")]
    for k in edges:
        if draw(st.booleans()):
            vals[k.name] = draw(st.sampled_from(k.choices))
    return vals


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_graphs_and_configs_match_the_interpreter(data):
    module = data.draw(graphs())
    config = data.draw(configs(module))
    args = random_args(module, seed=3)
    with np.errstate(all="ignore"):
        want = evaluate(module, *args)
        m, stages, stats = optimized(module, SPEC, config)
        got = evaluate(m, *args)
    assert_same(want, got, rtol=1e-4, atol=1e-5)
    check_plan(m.buffer_plan)
    assert stats["kernels"] == sum(1 for i in m.entry.instructions
                                   if i.opcode not in ("parameter", "constant", "get_tuple_element", "tuple"))
