"""Every notebook in notebooks/ runs headless, start to finish, on this interpreter.

The kernel is this very Python (a kernelspec written to a temporary directory), so the test
works wherever the package is installed, with or without a registered `python3` kernel. Each
notebook runs in a scratch directory with a private xltune cache; outputs are checked for what
they should show (stage tabs, timing tables, tuning results) and for what they must not
(errors, `<script>`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "xltune-test-python"
CELL_TIMEOUT_S = 300

# what each notebook's outputs must contain (in some output, text or HTML)
EXPECT = {
    "quickstart.ipynb": [">fusion_log</label>", ">llvm</label>", "vs xltune", "interpreter",
                         "XLA (jax)", "max abs error", "(whole program)", "[figure] autotuning",
                         "tuning history", "written: True"],
    "autotune.ipynb": ["fusion.", "[figure] autotuning: 10 trials", "best_so_far_s", "'tuned'"],
    "passes.ipynb": ["fusion decisions", "buffer plan", "row_fusion off", "kernels"],
}


def notebooks():
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory):
    """A kernelspec for the running interpreter, found through a private KernelSpecManager."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "xltune tests", "language": "python"}))
    return [str(root)]


def run_notebook(path: Path, kernel_dirs, cwd: Path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs))
    client = nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def outputs_text(nb) -> tuple[str, list[str]]:
    """All output text (streams, text/plain, text/html) and every HTML payload on its own."""
    texts, htmls = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            data = out.get("data", {})
            texts.append(data.get("text/plain", ""))
            if "text/html" in data:
                htmls.append(data["text/html"])
    return "\n".join(texts + htmls), htmls


def test_every_notebook_is_covered():
    assert set(notebooks()) == set(EXPECT), "add the new notebook's expectations to EXPECT"


@pytest.mark.slow
@pytest.mark.parametrize("name", notebooks())
def test_notebook_runs_headless(name, kernel_dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))  # the kernel inherits it
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    nb = run_notebook(NOTEBOOKS / name, kernel_dirs, tmp_path)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{name}: {out.get('ename')}: {out.get('evalue')}"
    text, htmls = outputs_text(nb)
    for want in EXPECT[name]:
        assert want in text, f"{name}: no output shows {want!r}"
    for h in htmls:
        assert "<script" not in h.lower(), f"{name}: an HTML output has a <script>"
