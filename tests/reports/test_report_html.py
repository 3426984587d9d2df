"""The HTML report and stage tabs: self-contained, script-free, with a text form; profile()."""
from __future__ import annotations

import re

import numpy as np
import pytest

import xltune
from xltune import reports
from xltune.reports import html as H
from xltune.reports.stages import clip

PROGRAM = """\
module @tanhsum {
  func.func public @main(%a: tensor<16x128xf32>) -> tensor<16xf32> {
    %z = stablehlo.constant dense<0.000000e+00> : tensor<f32>
    %t = stablehlo.tanh %a : tensor<16x128xf32>
    %s = stablehlo.reduce(%t init: %z) applies stablehlo.add across dimensions = [1] : (tensor<16x128xf32>, tensor<f32>) -> tensor<16xf32>
    return %s : tensor<16xf32>
  }
}
"""


@pytest.fixture(scope="module")
def exe():
    return xltune.compile(PROGRAM, backend="cpu", use_tuned=False)


def test_report_file_is_self_contained(exe, tmp_path):
    rep = reports.performance_report(exe, "tanhsum", budget_s=0.02)
    path = rep.save(tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    # nothing is fetched: no src/href pointing anywhere but inline data
    for ref in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert ref.startswith("data:image/png;base64,")
    assert "<style>" in page and "xlt-tabs" in page
    for title in ("statistics", "fusion log", "timing", "achieved bandwidth", "stages"):
        assert f"<h4>{title}</h4>" in page


def test_report_text_form(exe):
    rep = reports.performance_report(exe, "tanhsum", budget_s=0.02, xla=False)
    text = rep.text()
    assert text.startswith("xltune performance report: tanhsum")
    assert "timing" in text and "interpreter" in text and "[figure: timing]" in text
    assert set(rep.figures) == {"timing"}


def test_report_with_a_tuning_frame(exe):
    import pandas as pd
    trials = pd.DataFrame([{"number": i, "state": "COMPLETE", "time_s": 1e-3 / (i + 1)} for i in range(3)])
    rep = reports.performance_report(exe, "tanhsum", budget_s=0.02, xla=False, tuning=trials)
    assert "tuning" in rep.frames and "tuning" in rep.figures
    assert [s.title for s in rep.sections].count("tuning history") == 1


def test_stages_html_tabs(exe):
    page = reports.stages_html(exe, owner="tanhsum")
    assert page.count('type="radio"') == len(exe.stages)
    assert page.count(" checked") == 1
    names = re.findall(r'name="([^"]+)"', page)
    assert len(set(names)) == 1  # one radio group per tab set
    other = reports.stages_html(exe)
    assert set(re.findall(r'name="([^"]+)"', other)).isdisjoint(names)  # ids never collide


def test_stage_text_is_escaped_and_clipped():
    class Fake:
        stages = {"llvm": "\n".join(f"<line {i}> & more" for i in range(1000))}
    page = reports.stages_html(Fake(), owner="f", max_lines=10)
    assert "&lt;line 0&gt; &amp; more" in page and "<line 0>" not in page
    assert "990 more lines: f.stages[&#x27;llvm&#x27;]" in page
    text, left = clip("a\nb\nc", max_lines=2)
    assert (text, left) == ("a\nb", 1)


def test_table_escapes_cells():
    import pandas as pd
    out = H.table(pd.DataFrame({"a": ["<b>x</b>"], "b": [np.nan], "c": [3]}))
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x</b>" not in out


def test_profile_whole_program(exe):
    df = exe.profile(budget_s=0.02)
    assert list(df.columns) == ["kind", "name", "median_s", "iqr_s", "q1_s", "q3_s", "n", "noisy", "share"]
    assert df.loc[0, "kind"] == "program" and df.loc[0, "median_s"] > 0
    if not hasattr(exe.runner, "kernel_calls"):
        assert len(df) == 1 and "no per-kernel timing" in df.attrs["note"]


def test_profile_per_kernel_hook(exe):
    """A runner offering kernel_calls gets one row per kernel, timed by xltune.measure."""
    calls = []

    class Runner:
        def run(self, arrays):
            return exe.runner.run(arrays)

        def kernel_calls(self, arrays):
            calls.append([a.shape for a in arrays])
            return [("fusion.1", lambda: np.tanh(arrays[0])), ("reduce.2", lambda: arrays[0].sum(1))]

    fake = xltune.executable.Executable(exe.module, "cpu", Runner(), exe.stages, exe.config, dict(exe.stats))
    df = fake.profile(np.ones((16, 128), np.float32), budget_s=0.02)
    assert list(df["kind"]) == ["program", "kernel", "kernel"]
    assert list(df["name"][1:]) == ["fusion.1", "reduce.2"]
    assert (df["median_s"] > 0).all() and (df["share"][1:] > 0).all()
    assert calls == [[(16, 128)]]


def test_profile_checks_arguments(exe):
    with pytest.raises(xltune.ArgumentError):
        exe.profile(np.ones((3,), np.float32), budget_s=0.01)


def test_report_without_random_inputs_says_why():
    exe = xltune.compile("func.func @main(%t: !stablehlo.token, %a: tensor<4xf32>) -> tensor<4xf32> {\n"
                         "  %0 = stablehlo.add %a, %a : tensor<4xf32>\n  return %0 : tensor<4xf32>\n}\n",
                         backend="interpreter")
    rep = reports.performance_report(exe, "tok", budget_s=0.01)
    timing = [s for s in rep.sections if s.title == "timing"][0]
    assert "timing skipped: argument 0 (%t) has type !stablehlo.token" in timing.text
    assert "stages" in [s.title for s in rep.sections]
