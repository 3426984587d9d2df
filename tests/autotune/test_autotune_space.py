"""The search space: define-by-run walks over conditional knobs, minimal forms, and knobs whose
choices change with other choices."""
from __future__ import annotations

import optuna

from xltune.autotune.space import SearchSpace, param_name, suggest
from xltune.config import Config, Knob


class Space(SearchSpace):
    """Fusion policy -> an extra per-edge knob -> one or two kernels; the kernel's row block
    allows fewer choices when the edge is split (its rows are shorter)."""

    def __init__(self):
        super().__init__(None, None)

    def fusion_knobs(self, partial):
        ks = [Knob("fusion.policy", (False, True), False)]
        if partial.get("fusion.policy"):
            ks.append(Knob("fusion.edge.7", ("auto", "fuse", "split"), "auto"))
        return ks

    def kernel_knobs(self, fusion):
        n = 2 if fusion.get("fusion.edge.7") == "split" else 1
        rows = (1, 2) if n == 2 else (1, 2, 4)
        return ([Knob(f"cpu.k{i}.vector_width", (1, 4), 4) for i in range(n)]
                + [Knob("cpu.k0.row_block", rows, 1)])


def test_space_walks_conditional_fusion_knobs():
    """Define-by-run: a policy that makes new per-candidate knobs appear is asked about them."""
    sp = Space()
    cfg, seen = sp.walk(lambda k: k.choices[-1])
    assert cfg == Config({"fusion.policy": True, "fusion.edge.7": "split", "cpu.k0.vector_width": 4,
                          "cpu.k1.vector_width": 4, "cpu.k0.row_block": 2})
    assert [k.name for k in seen] == ["fusion.policy", "fusion.edge.7", "cpu.k0.vector_width",
                                      "cpu.k1.vector_width", "cpu.k0.row_block"]
    d, _ = sp.default()
    assert d == Config({"fusion.policy": False, "cpu.k0.vector_width": 4, "cpu.k0.row_block": 1})
    assert sp.minimal(cfg) == Config({"fusion.policy": True, "fusion.edge.7": "split", "cpu.k0.row_block": 2})
    assert sp.minimal(Config({"fusion.edge.7": "fuse", "cpu.k1.vector_width": 1})) == Config()


def test_a_knob_whose_choices_change_gets_its_own_parameter():
    sp = Space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"fusion.policy": False, "cpu.k0.row_block": 4})
    study.enqueue_trial({"fusion.policy": True, "fusion.edge.7": "split"})
    t0 = study.ask()
    c0, _ = suggest(t0, sp)
    study.tell(t0, 1.0)
    t1 = study.ask()
    c1, seen = suggest(t1, sp)
    study.tell(t1, 1.0)
    assert c0["cpu.k0.row_block"] == 4 and c1["cpu.k0.row_block"] in (1, 2)
    rb = [k for k in seen if k.name == "cpu.k0.row_block"][0]
    assert param_name(rb) == "cpu.k0.row_block[1,2]"
    assert "cpu.k0.row_block" in t0.params and "cpu.k0.row_block[1,2]" in study.trials[1].params
