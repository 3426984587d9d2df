"""%%xla: compiling StableHLO and Python cells, binding, options, display forms."""
from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError

from xltune.executable import Executable

GELU = """\
// tanh-approximate GELU
module @gelu_mod {
  func.func public @main(%x: tensor<16x32xf32>) -> tensor<16x32xf32> {
    %half = stablehlo.constant dense<5.000000e-01> : tensor<16x32xf32>
    %one = stablehlo.constant dense<1.000000e+00> : tensor<16x32xf32>
    %c = stablehlo.constant dense<4.471500e-02> : tensor<16x32xf32>
    %k = stablehlo.constant dense<0.797884583> : tensor<16x32xf32>
    %x2 = stablehlo.multiply %x, %x : tensor<16x32xf32>
    %x3 = stablehlo.multiply %x2, %x : tensor<16x32xf32>
    %cx3 = stablehlo.multiply %c, %x3 : tensor<16x32xf32>
    %inner = stablehlo.add %x, %cx3 : tensor<16x32xf32>
    %scaled = stablehlo.multiply %k, %inner : tensor<16x32xf32>
    %t = stablehlo.tanh %scaled : tensor<16x32xf32>
    %onept = stablehlo.add %one, %t : tensor<16x32xf32>
    %hx = stablehlo.multiply %half, %x : tensor<16x32xf32>
    %y = stablehlo.multiply %hx, %onept : tensor<16x32xf32>
    return %y : tensor<16x32xf32>
  }
}
"""

PY = """\
import xltune.numpy as xnp

def scale(v):
    return 2.0 * v

def axpy(x: xnp.f32[8, 16], y: xnp.f32[8, 16]):
    return scale(x) + y
"""


def gelu_ref(x):
    return 0.5 * x * (1 + np.tanh(0.797884583 * (x + 0.044715 * x ** 3)))


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_stablehlo_cell_binds_the_module_name_and_computes(shell):
    summary = shell.run_cell_magic("xla", "--no-timing", GELU)
    exe = shell.user_ns["gelu_mod"]
    assert isinstance(exe, Executable) and summary.exe is exe
    x = rand(16, 32)
    np.testing.assert_allclose(exe(x), gelu_ref(x), rtol=2e-5, atol=2e-6)


def test_python_cell_binds_the_last_function_and_keeps_helpers(shell):
    shell.run_cell_magic("xla", "--no-timing", PY)
    exe = shell.user_ns["axpy"]
    assert isinstance(exe, Executable)
    assert callable(shell.user_ns["scale"])  # the cell ran like any other cell
    x, y = rand(8, 16), rand(8, 16, seed=1)
    np.testing.assert_allclose(exe(x, y), 2 * x + y, rtol=1e-6)


def test_name_option_keeps_the_python_function(shell):
    shell.run_cell_magic("xla", "--name fast --no-timing", PY)
    assert isinstance(shell.user_ns["fast"], Executable)
    assert not isinstance(shell.user_ns["axpy"], Executable)  # still the Python function
    x, y = rand(8, 16), rand(8, 16, seed=1)
    np.testing.assert_allclose(shell.user_ns["fast"](x, y), np.asarray(shell.user_ns["axpy"](x, y)), rtol=1e-6)


def test_fn_option_picks_the_function(shell):
    shell.run_cell_magic("xla", "--fn axpy --name first --no-timing",
                         PY + "\ndef other(z: xnp.f32[2]):\n    return z\n")
    assert shell.user_ns["first"].param_names == ["x", "y"]


def test_backend_and_config_options(shell):
    shell.run_cell_magic("xla", "-b interpreter --name gi --no-timing", GELU)
    assert shell.user_ns["gi"].backend == "interpreter"
    shell.run_cell_magic("xla", """--name gc --no-timing --config '{"fusion.multi_output": false}'""", GELU)
    exe = shell.user_ns["gc"]
    assert exe.config["fusion.multi_output"] is False and exe.stats["config_source"] == "explicit"
    shell.user_ns["cfg"] = {"fusion.sibling": False}
    shell.run_cell_magic("xla", "--name gv --no-timing --config cfg", GELU)
    assert shell.user_ns["gv"].config["fusion.sibling"] is False


def test_bad_config_is_a_usage_error(shell):
    with pytest.raises(UsageError, match="--config: not JSON"):
        shell.run_cell_magic("xla", "--config {nope", GELU)


def test_timing_table_against_interpreter_and_xla(shell):
    summary = shell.run_cell_magic("xla", "--budget 0.02 --name gt", GELU)
    df = summary.timing
    impls = list(df["implementation"])
    assert impls[0] == "xltune (cpu)" and "interpreter" in impls and "XLA (jax)" in impls
    assert df.loc[0, "vs_xltune"] == 1.0
    assert (df.loc[df["implementation"] == "interpreter", "median_s"] > 0).all()
    assert df.loc[0, "max_rel_err"] < 1e-4
    assert "interpreter" in summary.text() and "vs xltune" in summary.html()


def test_args_option_times_on_the_given_inputs(shell):
    shell.user_ns["xin"] = rand(16, 32, seed=5)
    summary = shell.run_cell_magic("xla", "--budget 0.02 --no-xla --args xin --name ga", GELU)
    magics = shell.magics_manager.registry["XlaMagics"]
    assert magics.entries["ga"].args[0] is shell.user_ns["xin"]
    assert "XLA (jax)" not in list(summary.timing["implementation"])


def test_quiet_binds_and_shows_nothing(shell):
    assert shell.run_cell_magic("xla", "-q --name gq", GELU) is None
    assert isinstance(shell.user_ns["gq"], Executable)


def test_summary_has_html_without_script_and_text_plain(shell, formats):
    summary = shell.run_cell_magic("xla", "--budget 0.02 --no-xla --name gs", GELU)
    data = formats(summary)
    assert {"text/html", "text/plain"} <= set(data)
    html, text = data["text/html"], data["text/plain"]
    assert "<script" not in html.lower()
    exe = shell.user_ns["gs"]
    for stage in exe.stages:
        assert f">{stage}</label>" in html  # one tab per stage
        assert stage in text
    assert html.count('type="radio"') == len(exe.stages)
    assert "gs — xltune cpu" in text and "tensor<16x32xf32>" in text


def test_executable_displays_itself(shell, formats):
    shell.run_cell_magic("xla", "-q --name ge", GELU)
    data = formats(shell.user_ns["ge"])
    assert "<script" not in data["text/html"].lower() and ">fused</label>" in data["text/html"]
    assert "stages" in data["text/plain"]


def test_bad_bind_name_and_empty_cell(shell):
    with pytest.raises(UsageError, match="not a Python identifier"):
        shell.run_cell_magic("xla", "--name 2x", GELU)
    with pytest.raises(UsageError, match="empty"):
        shell.run_cell_magic("xla", "", "   \n")
