"""%xla_tune (live plot, rebinding, summary) and %xla_report (sections, HTML file)."""
from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from xltune.executable import Executable

SOFTMAX = """\
import xltune.numpy as xnp

def softmax(x: xnp.f32[32, 64]):
    e = xnp.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
"""

FAST = "--trials 4 --budget 0.02 --final-budget 0.1 --no-isolate --seed 1"


def softmax_ref(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def tuned(shell):
    shell.run_cell_magic("xla", "-q", SOFTMAX)
    before = shell.user_ns["softmax"]
    with capture_output() as cap:
        summary = shell.run_line_magic("xla_tune", f"softmax {FAST}")
    return shell, before, summary, cap


def test_tune_rebinds_to_the_tuned_executable(tuned):
    shell, before, summary, _ = tuned
    after = shell.user_ns["softmax"]
    assert isinstance(after, Executable) and after is not before
    assert after is summary.exe
    assert after.config == summary.result.best_config
    x = np.random.default_rng(3).standard_normal((32, 64)).astype(np.float32)
    np.testing.assert_allclose(after(x), softmax_ref(x), rtol=2e-5, atol=1e-7)
    assert summary.result.n_trials == 4


def test_tune_draws_a_live_plot_in_place(tuned):
    _, _, summary, cap = tuned
    pngs = [o for o in cap.outputs if "image/png" in o.data]
    assert pngs, "the live plot was never drawn"
    assert all(o.data["image/png"][:8] == b"\x89PNG\r\n\x1a\n" for o in pngs)
    assert all(o.data["text/plain"].startswith("[figure]") for o in pngs)
    assert "4 trials" in pngs[-1].data["text/plain"]  # the final redraw has every trial


def test_tune_summary_forms(tuned, formats):
    _, _, summary, _ = tuned
    data = formats(summary)
    assert "<script" not in data["text/html"].lower()
    assert summary.result.best_config.to_json() in data["text/plain"]
    assert "default" in data["text/plain"]
    for knob in summary.result.best_config:
        assert knob in data["text/plain"] and knob in data["text/html"]


def test_report_after_tuning_has_the_history(tuned, tmp_path):
    shell = tuned[0]
    out = tmp_path / "r" / "softmax.html"
    report = shell.run_line_magic("xla_report", f"softmax --budget 0.02 --no-xla --html {out}")
    titles = [s.title for s in report.sections]
    for t in ("statistics", "fusion log", "timing", "achieved bandwidth", "tuning history", "stages"):
        assert t in titles
    assert set(report.frames) >= {"stats", "timing", "bandwidth", "tuning"}
    assert len(report.frames["tuning"]) == 4
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    assert "tuning history" in report.text()


def test_report_without_tuning(shell):
    shell.run_cell_magic("xla", "-q --name sm2", SOFTMAX)
    report = shell.run_line_magic("xla_report", "sm2 --budget 0.02")
    titles = [s.title for s in report.sections]
    assert "tuning history" not in titles and "timing" in titles
    impls = list(report.frames["timing"]["implementation"])
    assert impls[:2] == ["xltune (cpu)", "interpreter"]
    assert "<script" not in report._repr_html_().lower()


def test_tune_and_report_accept_any_executable(shell):
    import xltune
    shell.user_ns["plain"] = xltune.compile(
        "func.func @main(%a: tensor<64xf32>) -> tensor<64xf32> {\n"
        "  %0 = stablehlo.multiply %a, %a : tensor<64xf32>\n  return %0 : tensor<64xf32>\n}\n")
    report = shell.run_line_magic("xla_report", "plain --budget 0.02 --no-xla --no-interpreter")
    assert list(report.frames["timing"]["implementation"]) == ["xltune (cpu)"]
    summary = shell.run_line_magic("xla_tune", f"plain {FAST} -q")
    assert shell.user_ns["plain"] is summary.exe


def test_unknown_names_are_usage_errors(shell):
    with pytest.raises(UsageError, match="no program named 'nothing_here'"):
        shell.run_line_magic("xla_tune", "nothing_here")
    shell.user_ns["number"] = 3
    with pytest.raises(UsageError, match="is a int"):
        shell.run_line_magic("xla_report", "number")


def test_interpreter_programs_cannot_be_tuned(shell):
    shell.run_cell_magic("xla", "-q -b interpreter --name si", SOFTMAX)
    with pytest.raises(UsageError, match="nothing to tune"):
        shell.run_line_magic("xla_tune", "si")


def test_report_reads_the_stored_history_of_a_tuned_config(tuned):
    """A later compile of the same program picks the stored tuned Config up; its report reads
    the study back from the storage (as in a new session)."""
    shell, _, summary, _ = tuned
    shell.run_cell_magic("xla", "-q --name again", SOFTMAX)
    again = shell.user_ns["again"]
    assert again.stats["config_source"] == "tuned" and again.config == summary.result.best_config
    report = shell.run_line_magic("xla_report", "again --budget 0.02 --no-xla --no-interpreter")
    history = [s for s in report.sections if s.title == "tuning history"]
    assert history and summary.result.study_name in history[0].text
    assert list(report.frames["tuning"]["number"]) == [0, 1, 2, 3]


def test_live_plot_redraws_at_most_every_interval(monkeypatch, shell):
    import xltune.autotune.tuner as T
    from xltune.magics.live import LivePlot
    frame = __import__("pandas").DataFrame([{"number": 0, "state": "COMPLETE", "time_s": 1e-3}])
    monkeypatch.setattr(T, "trials_frame", lambda study: frame)
    plot = LivePlot("t", min_interval_s=60)
    with capture_output() as cap:
        plot.start()
        plot(None, None)
        plot(None, None)  # within the interval: skipped
    assert plot.updates == 1
    assert cap.outputs[0].data["text/plain"] == "[figure] t: waiting for the first trial"


def test_live_plot_failure_does_not_stop_tuning(monkeypatch, shell):
    import xltune.autotune.tuner as T
    from xltune.magics.live import LivePlot

    def broken(study):
        raise ValueError("no frame")
    monkeypatch.setattr(T, "trials_frame", broken)
    plot = LivePlot("t", min_interval_s=0)
    with capture_output():
        plot.start()
        plot(None, None)
        plot(None, None)
    assert plot.failed == "live plot stopped: ValueError: no frame" and plot.updates == 0


def test_extension_registers_the_magics(shell):
    assert shell.find_cell_magic("xla") is not None
    assert shell.find_line_magic("xla_tune") is not None and shell.find_line_magic("xla_report") is not None


def test_tune_storage_and_study_options(shell, tmp_path):
    import optuna
    shell.run_cell_magic("xla", "-q --name st", SOFTMAX)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    summary = shell.run_line_magic("xla_tune", f"st {FAST} -q --storage '{url}' --study nb-study")
    assert summary.result.study_name == "nb-study"
    study = optuna.load_study(study_name="nb-study", storage=url)
    assert len(study.trials) == 4
    # resuming the named study with a larger total runs only the difference
    again = shell.run_line_magic("xla_tune", f"st --trials 6 --budget 0.02 --final-budget 0.1 --no-isolate "
                                             f"-q --storage {url} --study nb-study")
    assert again.result.ran_here == 2 and again.result.n_trials == 6
