"""Two `xltune tune` workers on one study in a real PostgreSQL server (.ci/run starts one on
127.0.0.1 and sets XLTUNE_TEST_POSTGRES_URL): the global trial count is exact, both workers
contributed, no trial was lost, the best Config loads back, and no password is ever printed."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from xltune.autotune import storage as S

import autotune_fakes as F

URL = os.environ.get("XLTUNE_TEST_POSTGRES_URL")

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.skipif(not URL, reason="XLTUNE_TEST_POSTGRES_URL is not set: no PostgreSQL "
                                                 "server to test against (.ci/run starts one with "
                                                 ".ci/postgres.sh)")]


@pytest.fixture(autouse=True)
def fake_backend(tmp_path, monkeypatch):
    return F.multi_process_setup(tmp_path, monkeypatch)


def test_two_postgres_workers_share_one_study(fake_backend, tmp_path):
    study = f"pg-{uuid.uuid4().hex[:10]}"
    outs = [tmp_path / f"w{i}.json" for i in range(2)]
    procs = [F.start_worker(fake_backend, URL, study, 16, "--budget", "0.25", "--final-budget", "0.4",
                            "--json", str(out))
             for out in outs]
    pw = S.password_of(URL)
    for rc, so, se in F.finish(procs):
        assert rc == 0, S.scrub(se[-3000:], URL)
        if pw:
            assert pw not in so and pw not in se  # the password is never printed
        assert "xltune:***@127.0.0.1" in so  # shown, masked
    st = F.check_shared_study(URL, study, 16, min_workers=2)
    summaries = [json.loads(o.read_text()) for o in outs]
    assert sum(s["ran_here"] for s in summaries) == 16
    assert all(s["ran_here"] > 0 for s in summaries)
    assert st.trials[0].params.get("fake.width") == 1  # trial 0: the default Config


def test_two_postgres_workers_tune_the_cpu_backend(tmp_path, monkeypatch):
    """The same with the real passes and CPU backend (LLVM builds in each worker's process)."""
    from test_autotune_cpu import PROGRAM
    import xltune
    prog = tmp_path / "cpu.mlir"
    prog.write_text(PROGRAM)
    study = f"pg-cpu-{uuid.uuid4().hex[:10]}"
    procs = [F.start_worker(prog, URL, study, 12, "--budget", "0.1", "--final-budget", "0.3",
                            backend="cpu") for _ in range(2)]
    for rc, so, se in F.finish(procs):
        assert rc == 0, S.scrub(se[-3000:], URL)
    st = F.check_shared_study(URL, study, 12, min_workers=2, program=PROGRAM, backend="cpu")
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in st.trials)
    monkeypatch.setenv("XLTUNE_STORAGE", URL)
    exe = xltune.compile(PROGRAM, backend="cpu")
    assert exe.stats["config_source"] == "tuned"
    assert exe.config.to_json() == st.user_attrs["xltune.best_config"]


def test_bad_password_is_masked(fake_backend):
    from sqlalchemy.engine import make_url
    bad = make_url(S.normalize_url(URL)).set(password="wrong-Pa55word").render_as_string(hide_password=False)
    p = F.start_worker(fake_backend, bad, "nope", 2)
    (rc, so, se), = F.finish([p])
    assert rc != 0
    assert "wrong-Pa55word" not in so + se
    assert "***" in se
