"""exe.stages: an ordered dict of str for every reader, with entries made on first read."""
from __future__ import annotations

import copy
import json
import pickle

import pytest

from xltune.executable import Stages, lazy_stage


def _stages(calls: list) -> Stages:
    s = Stages({"input": "in", "hlo": "h"})

    def make():
        calls.append(1)
        return "ASM"
    s.set_lazy("asm", make)
    s["tail"] = "t"
    return s


def test_pending_entry_is_made_once_on_first_read():
    calls = []
    s = _stages(calls)
    assert list(s) == ["input", "hlo", "asm", "tail"] and len(s) == 4 and "asm" in s
    assert not s.is_made("asm") and s.is_made("hlo")
    assert calls == []
    assert s["asm"] == "ASM" and s["asm"] == "ASM" and s.get("asm") == "ASM"
    assert calls == [1] and s.is_made("asm")


@pytest.mark.parametrize("read", [
    lambda s: dict(s),
    lambda s: {**s},
    lambda s: json.loads(json.dumps(s)),
    lambda s: dict(s.items()),
    lambda s: dict(zip(s.keys(), s.values())),
    lambda s: {k: s[k] for k in s},
    lambda s: dict(copy.copy(s)),
    lambda s: dict(copy.deepcopy(s)),
    lambda s: dict(pickle.loads(pickle.dumps(s))),
    lambda s: dict(s.copy()),
    lambda s: dict(s | {}),
    lambda s: dict({} | s),
    lambda s: eval(repr(s)),
    lambda s: (lambda **kw: kw)(**s),
    lambda s: (lambda d: (d.update(s), d)[1])({}),
], ids=["dict", "unpack", "json", "items", "values", "iter", "copy", "deepcopy", "pickle", "method-copy",
        "or", "ror", "repr", "kwargs", "update"])
def test_every_reader_sees_text(read):
    calls = []
    got = read(_stages(calls))
    assert got == {"input": "in", "hlo": "h", "asm": "ASM", "tail": "t"}
    assert list(got) == ["input", "hlo", "asm", "tail"]      # order kept
    assert all(isinstance(v, str) for v in got.values())


def test_equality_pop_and_setdefault_see_text():
    calls = []
    s = _stages(calls)
    assert s == {"input": "in", "hlo": "h", "asm": "ASM", "tail": "t"}
    assert s != {"input": "in"} and isinstance(s, dict)
    t = _stages([])
    assert s == t
    assert t.pop("asm") == "ASM" and "asm" not in t
    assert t.pop("asm", None) is None
    with pytest.raises(KeyError):
        t.pop("asm")
    u = _stages([])
    assert u.setdefault("asm", "other") == "ASM"
    assert u.popitem() == ("tail", "t")


def test_lazy_stage_in_a_plain_dict_is_made_at_once():
    d = {}
    lazy_stage(d, "asm", lambda: "ASM")
    assert d == {"asm": "ASM"}
    s = Stages()
    lazy_stage(s, "asm", lambda: "ASM")
    assert not s.is_made("asm") and s["asm"] == "ASM"
