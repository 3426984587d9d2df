import numpy as np

from xltune.measure import Measurement, faster_beyond_noise, measure, measure_paired, format_seconds


def test_measure_batches_short_calls_and_respects_budget():
    calls = []
    m = measure(lambda: calls.append(1), budget_s=0.02, warmup_s=0.005, min_samples=5)
    assert m.n >= 5
    assert m.batch > 1  # a no-op is far below min_sample_s, so calls are batched
    assert m.median > 0 and m.q1 <= m.median <= m.q3
    assert len(calls) >= m.n * m.batch


def test_median_ci_brackets_median():
    rng = np.random.default_rng(0)
    m = Measurement(rng.normal(1.0, 0.01, 200))
    lo, hi = m.median_ci()
    assert lo <= m.median <= hi
    assert hi - lo < 0.01
    assert not m.noisy


def test_noisy_flag_on_large_spread():
    m = Measurement(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]))
    assert m.noisy


def test_faster_beyond_noise_needs_separated_intervals():
    rng = np.random.default_rng(1)
    base = Measurement(rng.normal(1.0, 0.01, 100))
    clearly = Measurement(rng.normal(0.8, 0.01, 100))
    same = Measurement(rng.normal(0.995, 0.01, 100))
    assert faster_beyond_noise(clearly, base)
    assert not faster_beyond_noise(same, base)
    assert not faster_beyond_noise(base, clearly)


def test_measure_paired_alternates():
    order = []
    res = measure_paired({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=4,
                         budget_s=0.01, min_sample_s=1e-5)
    assert set(res) == {"a", "b"}
    assert res["a"].n == res["b"].n >= 4  # every round measures both
    assert res["a"].batch > 1  # a no-op is batched up to min_sample_s


def test_measure_paired_spends_its_budget():
    import time
    t0 = time.perf_counter()
    # max_rounds out of the way: the budget alone ends it (with the default cap of 5000 rounds, a
    # batch calibrated during a load spike made 5000 rounds of no-ops last 0.12 s on CI)
    res = measure_paired({"a": lambda: None, "b": lambda: None}, rounds=2, budget_s=0.2, min_sample_s=1e-4,
                         max_rounds=10**9)
    assert time.perf_counter() - t0 >= 0.2
    assert res["a"].n > 2


def test_format_seconds_units():
    assert format_seconds(2.0).endswith(" s")
    assert format_seconds(2e-3).endswith("ms")
    assert format_seconds(2e-6).endswith("µs")
