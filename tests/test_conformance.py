"""The conformance runner, and the interpreter's pass rates over ../shared (never below the floors)."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from xltune import cli
from xltune.conformance import family, instrument, run_file, run_files, summarize

FLOORS = json.loads((pathlib.Path(__file__).parent / "conformance_floors.json").read_text())

TESTDATA_STYLE = """
module @jit_main {
  func.func public @main() -> (tensor<3xf32>) {
    %0:2 = call @inputs() : () -> (tensor<3xf32>, tensor<3xf32>)
    %1 = call @expected() : () -> tensor<3xf32>
    %2 = stablehlo.add %0#0, %0#1 : tensor<3xf32>
    stablehlo.custom_call @check.expect_close(%2, %1) {has_side_effect = true} : (tensor<3xf32>, tensor<3xf32>) -> ()
    return %2 : tensor<3xf32>
  }
  func.func private @inputs() -> (tensor<3xf32>, tensor<3xf32>) {
    %cst = stablehlo.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
    %cst_0 = stablehlo.constant dense<[0.5, 0.5, 0.5]> : tensor<3xf32>
    return %cst, %cst_0 : tensor<3xf32>, tensor<3xf32>
  }
  func.func private @expected() -> (tensor<3xf32>) {
    %cst = stablehlo.constant dense<EXPECTED> : tensor<3xf32>
    return %cst : tensor<3xf32>
  }
}
"""

INTERPRET_STYLE = """
func.func @first() {
  %0 = stablehlo.constant dense<[1, 2]> : tensor<2xi32>
  %1 = stablehlo.add %0, %0 : tensor<2xi32>
  check.expect_eq_const %1, dense<[2, 4]> : tensor<2xi32>
  func.return
}

// -----

func.func @second() {
  %0 = stablehlo.constant dense<2.0> : tensor<f32>
  %1 = stablehlo.sqrt %0 : tensor<f32>
  check.expect_almost_eq_const %1, dense<1.41421> : tensor<f32>
  func.return
}
"""

HANG = """
func.func @main() {
  %0 = stablehlo.constant dense<0> : tensor<i32>
  %1 = stablehlo.while(%i = %0) : tensor<i32>
   cond {
    %t = stablehlo.constant dense<true> : tensor<i1>
    stablehlo.return %t : tensor<i1>
  } do {
    stablehlo.return %i : tensor<i32>
  }
  func.return
}
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_family_names():
    assert family("scatter_add_float32_5_int32_3.mlir") == "scatter_add"
    assert family("dot_general_bfloat16_4_3_float16_3_6.mlir") == "dot_general"
    assert family("add_float32_20_20_float32_20_20.mlir") == "add"
    assert family("iota_2x32_shape_.mlir") == "iota"
    assert family("random_split_.mlir") == "random_split"
    assert family("reduce_window_max_uint8_4_6.mlir") == "reduce_window_max"
    assert family("/x/interpret/scatter.mlir") == "scatter"


@pytest.mark.parametrize("via_compile", [False, True])
def test_run_file_pass_fail_and_error(tmp_path, via_compile):
    ok = _write(tmp_path, "add_float32_3.mlir", TESTDATA_STYLE.replace("EXPECTED", "[1.5, 2.5, 3.5]"))
    bad = _write(tmp_path, "add_float32_4.mlir", TESTDATA_STYLE.replace("EXPECTED", "[1.5, 2.5, 3.6]"))
    broken = _write(tmp_path, "add_float32_5.mlir", "func.func @main() { %0 = stablehlo.nonsense }")
    r = run_file(ok, via_compile=via_compile)
    assert (r.status, r.tests, r.checks, r.family) == ("pass", 1, 1, "add")
    r = run_file(bad, via_compile=via_compile)
    assert r.status == "fail" and "expect_close" in r.reason and "ULP" in r.reason
    r = run_file(broken, via_compile=via_compile)
    assert r.status == "error" and r.reason


def test_run_file_split_interpret_style(tmp_path):
    f = _write(tmp_path, "ops.mlir", INTERPRET_STYLE)
    r = run_file(f)
    assert (r.status, r.tests, r.checks) == ("pass", 2, 2)
    r = run_file(f, via_compile=True)
    assert r.status == "pass", r.reason


def test_instrument_turns_checks_into_outputs_and_lifts_constants():
    import xltune
    m = xltune.parse(TESTDATA_STYLE.replace("EXPECTED", "[1.5, 2.5, 3.5]"))
    inst, checks, args = instrument(m, "main")
    entry = inst.entry
    assert not any(i.opcode == "custom_call" for i in entry.walk())
    assert len(entry.params) == 2 and len(args) == 2          # the two inputs, not the expected value
    assert not any(i.opcode == "constant" and i.type.rank > 0 for i in entry.instructions)
    assert len(entry.outputs) == 2 and checks[0].kind == "expect_close" and checks[0].expected[0] == "const"
    assert m.entry.params == []                                 # the original is untouched
    _, _, kept = instrument(m, "main", lift=False)
    assert kept == []


def test_worker_pool_times_out_a_hanging_file(tmp_path):
    hang = _write(tmp_path, "while_hang.mlir", HANG)
    ok = _write(tmp_path, "ops.mlir", INTERPRET_STYLE)
    results = run_files([hang, ok], jobs=2, timeout=3)
    assert [r.status for r in results] == ["timeout", "pass"]
    assert "3 s" in results[0].reason


def test_cli_json_and_min_rate(tmp_path, capsys):
    _write(tmp_path, "add_float32_3.mlir", TESTDATA_STYLE.replace("EXPECTED", "[1.5, 2.5, 3.5]"))
    _write(tmp_path, "sub_float32_3.mlir", TESTDATA_STYLE.replace("EXPECTED", "[0.0, 0.0, 0.0]"))
    out = tmp_path / "report.json"
    rc = cli.main(["conformance", str(tmp_path), "--jobs", "1", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["summary"]["overall"]["pass"] == 1 and report["summary"]["families"]["sub"]["fail"] == 1
    assert {f["file"]: f["status"] for f in report["files"]} == {"add_float32_3.mlir": "pass",
                                                                  "sub_float32_3.mlir": "fail"}
    text = capsys.readouterr().out
    assert "OVERALL" in text and "sub_float32_3.mlir" in text
    assert cli.main(["conformance", str(tmp_path), "--jobs", "0", "--min-rate", "0.9", "-q"]) == 1
    assert cli.main(["conformance", str(tmp_path), "--jobs", "0", "--min-rate", "50", "-q"]) == 0
    assert cli.main(["conformance", str(tmp_path), "--jobs", "0", "--filter", "add_*", "--min-rate", "1", "-q"]) == 0


def test_summary_counts():
    from xltune.conformance import FileResult
    s = summarize([FileResult("a_f32.mlir", "a", "pass"), FileResult("a_i8.mlir", "a", "error"),
                   FileResult("b.mlir", "b", "timeout")])
    assert s["families"]["a"]["rate"] == 0.5 and s["overall"]["timeout"] == 1 and s["overall"]["total"] == 3


def _check_floors(results, floors):
    summary = summarize(results)
    low = []
    for fam, floor in floors["families"].items():
        got = summary["families"].get(fam)
        if got is None:
            low.append(f"{fam}: no files")
        elif got["rate"] + 1e-9 < floor:
            bad = [f"{r.file}: {r.status} {r.reason[:200]}" for r in results if r.family == fam and r.status != "pass"]
            low.append(f"{fam}: {got['rate']:.4f} < floor {floor}\n    " + "\n    ".join(bad[:5]))
    overall = summary["overall"]["rate"]
    assert not low and overall + 1e-9 >= floors["overall"], \
        f"overall {overall:.4f} (floor {floors['overall']}); below their floors:\n" + "\n".join(low)


@pytest.mark.slow
def test_interpreter_testdata_pass_rates(testdata_dir):
    files = sorted(str(p) for p in testdata_dir.glob("*.mlir"))
    results = run_files(files, backend="interpreter", jobs=2, timeout=300)
    _check_floors(results, FLOORS["interpreter"]["testdata"])


@pytest.mark.slow
def test_interpreter_interpret_pass_rates(interpret_dir):
    files = sorted(str(p) for p in interpret_dir.glob("*.mlir"))
    results = run_files(files, backend="interpreter", jobs=2, timeout=300)
    _check_floors(results, FLOORS["interpreter"]["interpret"])


@pytest.mark.slow
def test_cpu_testdata_pass_rates(testdata_dir):
    # compiled natively (constants lifted into arguments, checks turned into outputs); ops the
    # CPU backend has no kernel for run through per-instruction fallbacks
    files = sorted(str(p) for p in testdata_dir.glob("*.mlir"))
    results = run_files(files, backend="cpu", jobs=2, timeout=300)
    _check_floors(results, FLOORS["cpu"]["testdata"])


@pytest.mark.slow
def test_checks_as_outputs_path_agrees_with_the_interpreter(interpret_dir):
    # what compiled backends go through, exercised with the interpreter as the backend
    files = sorted(str(p) for p in interpret_dir.glob("*.mlir"))
    results = run_files(files, backend="interpreter", jobs=2, timeout=300, via_compile=True)
    _check_floors(results, FLOORS["interpreter"]["interpret"])
