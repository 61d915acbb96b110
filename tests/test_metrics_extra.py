"""EER, TPR at a fixed FPR, chosen thresholds and bootstrap intervals (gibench.metrics), each
checked against a slow reference: scikit-learn's ROC points, a brute-force threshold search,
and a loop over resamples drawing the same indices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve

from gibench import metrics as M
from gibench.metrics import (
    EXTENDED_COLUMNS,
    accuracy_at,
    bootstrap_ci,
    compute_metrics,
    eer,
    extended_metrics,
    sigmoid,
    threshold_for,
    tpr_at_fpr,
)

TOL = 1e-9  # percent


def _case(seed: int, n: int, p_fake: float = 0.5, decimals: int | None = None,
          shift: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < p_fake).astype(int)
    labels[0], labels[1] = 0, 1
    scores = sigmoid(rng.normal(size=n) + shift * labels - 0.3)
    return labels, (np.round(scores, decimals) if decimals is not None else scores)


# -- slow references ----------------------------------------------------------------------------

def _sk_eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """Walk sklearn's ROC points ((0, 0) to (1, 1)); interpolate FPR where FPR − FNR turns >= 0."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1.0 - tpr
    for i in range(1, len(fpr)):
        d0, d1 = fpr[i - 1] - fnr[i - 1], fpr[i] - fnr[i]
        if d1 >= 0:
            if d1 == 0:
                return 100 * fpr[i]
            w = -d0 / (d1 - d0)
            return 100 * (fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))
    raise AssertionError("the ROC curve never crossed FPR = FNR")


def _sk_tpr_at(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return 100 * max(t for f, t in zip(fpr, tpr, strict=True) if f <= target + 1e-12)


def _candidate_thresholds(scores: np.ndarray) -> list[float]:
    u = np.unique(scores)
    return [u[0] - 0.5, *((u[:-1] + u[1:]) / 2), u[-1] + 0.5]


def _brute_threshold(labels: np.ndarray, scores: np.ndarray, rule: str) -> float:
    """Try every cut, score it by a direct count, keep the best; ties → nearest 0.5, lower."""
    real, fake = scores[labels == 0], scores[labels == 1]
    quality = {}
    for t in _candidate_thresholds(scores):
        if rule == "acc":
            quality[t] = np.sum(real <= t) + np.sum(fake > t)
        else:
            quality[t] = -abs(np.mean(real > t) - np.mean(fake <= t))
    best = max(quality.values())
    tied = [t for t, q in quality.items() if math.isclose(q, best, abs_tol=1e-12)]
    return min(tied, key=lambda t: (abs(t - 0.5), t))


def _loop_bootstrap(labels, scores, n, seed, level, threshold):
    """One resample at a time, with the documented draws, scored by sklearn."""
    real, fake = scores[labels == 0], scores[labels == 1]
    rng_real, rng_fake = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    accs, aucs = [], []
    for _ in range(n):
        r = real[rng_real.integers(0, real.size, size=real.size)]
        f = fake[rng_fake.integers(0, fake.size, size=fake.size)]
        y = np.r_[np.zeros(r.size), np.ones(f.size)]
        s = np.r_[r, f]
        accs.append(100 * np.mean((s > threshold) == y))
        aucs.append(100 * roc_auc_score(y, s))
    q = [50 * (1 - level), 50 * (1 + level)]
    return {"acc": tuple(np.percentile(accs, q)), "auc": tuple(np.percentile(aucs, q))}


# -- EER and TPR at FPR -------------------------------------------------------------------------

CASES = [(500, 0.5, None), (500, 0.5, 1), (301, 0.2, None), (300, 0.8, 2), (40, 0.5, 0)]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("n", "p_fake", "decimals"), CASES)
def test_eer_and_tpr_match_sklearn_roc(seed, n, p_fake, decimals):
    labels, scores = _case(seed, n, p_fake, decimals)
    assert eer(labels, scores) == pytest.approx(_sk_eer(labels, scores), abs=TOL)
    for target in (0.0, 0.01, 0.05, 0.2, 1.0):
        assert tpr_at_fpr(labels, scores, target) == pytest.approx(
            _sk_tpr_at(labels, scores, target), abs=TOL), target


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=40)
       .filter(lambda xs: len({lab for lab, _ in xs}) == 2))
def test_eer_tpr_and_thresholds_on_tied_scores(pairs):
    labels = np.array([lab for lab, _ in pairs])
    scores = np.array([v / 6 for _, v in pairs])
    assert eer(labels, scores) == pytest.approx(_sk_eer(labels, scores), abs=TOL)
    assert tpr_at_fpr(labels, scores, 0.25) == pytest.approx(
        _sk_tpr_at(labels, scores, 0.25), abs=TOL)
    for rule in ("acc", "eer"):
        assert threshold_for(labels, scores, rule) == _brute_threshold(labels, scores, rule)


def test_eer_is_where_the_error_rates_meet():
    labels, scores = _case(7, 2000)
    value = eer(labels, scores)
    t = threshold_for(labels, scores, "eer")
    at = accuracy_at(labels, scores, t)
    fpr, fnr = 100 - at["real_acc"], 100 - at["fake_acc"]
    assert min(fpr, fnr) - 0.1 <= value <= max(fpr, fnr) + 0.1  # the nearest cut brackets it


# -- thresholds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rule", ["acc", "eer"])
@pytest.mark.parametrize(("n", "p_fake", "decimals"), CASES)
def test_threshold_for_matches_brute_force(rule, n, p_fake, decimals):
    labels, scores = _case(3, n, p_fake, decimals)
    t = threshold_for(labels, scores, rule)
    assert t == _brute_threshold(labels, scores, rule)
    assert not np.any(scores == t)  # never on a score


def test_acc_threshold_is_the_oracle_and_beats_one_half():
    labels, scores = _case(0, 4000, shift=2.0)
    scores = np.clip(scores + 0.2, 0, 1)  # miscalibrated: 0.5 is too low
    t = threshold_for(labels, scores, "acc")
    best = accuracy_at(labels, scores, t)["acc"]
    assert best > compute_metrics(labels, scores)["acc"] + 5
    grid = np.linspace(0, 1, 501)
    assert best >= max(accuracy_at(labels, scores, g)["acc"] for g in grid)


def test_accuracy_at_agrees_with_compute_metrics():
    labels, scores = _case(1, 300, decimals=1)
    for t in (0.0, 0.3, 0.5, 0.7, 1.0):
        full = compute_metrics(labels, scores, threshold=t)
        assert accuracy_at(labels, scores, t) == {k: full[k] for k in ("acc", "real_acc",
                                                                       "fake_acc")}


# -- edge cases ---------------------------------------------------------------------------------

def test_all_scores_equal():
    labels = np.array([0, 0, 1, 1, 1])
    scores = np.full(5, 0.5)
    assert eer(labels, scores) == 50.0
    assert tpr_at_fpr(labels, scores, 0.05) == 0.0  # only (0, 0) has FPR <= 5%
    assert tpr_at_fpr(labels, scores, 1.0) == 100.0
    t = threshold_for(labels, scores, "acc")
    assert t == 0.0 and accuracy_at(labels, scores, t)["acc"] == 60.0  # all fake: 3 of 5
    ci = bootstrap_ci(labels, scores, ("acc", "auc"), n=50)
    assert ci["auc"] == (50.0, 50.0)
    assert ci["acc"] == (40.0, 40.0)  # at 0.5 all are real: 2 of 5, in every resample


def test_perfect_separation():
    labels = np.array([0] * 30 + [1] * 20)
    scores = np.r_[np.linspace(0.0, 0.4, 30), np.linspace(0.6, 1.0, 20)]
    assert eer(labels, scores) == 0.0
    assert tpr_at_fpr(labels, scores, 0.0) == 100.0
    t = threshold_for(labels, scores, "acc")
    assert 0.4 < t < 0.6 and accuracy_at(labels, scores, t)["acc"] == 100.0
    assert threshold_for(labels, scores, "eer") == t
    assert bootstrap_ci(labels, scores, ("acc", "auc"), n=100) == {"acc": (100.0, 100.0),
                                                                   "auc": (100.0, 100.0)}
    reversed_ = 1.0 - scores
    assert eer(labels, reversed_) == 100.0


@pytest.mark.parametrize("call", [
    lambda y, s: eer(y, s),
    lambda y, s: tpr_at_fpr(y, s, 0.01),
    lambda y, s: threshold_for(y, s),
    lambda y, s: bootstrap_ci(y, s, n=10),
])
@pytest.mark.parametrize("label", [0, 1])
def test_one_class_missing_is_a_clear_error(call, label):
    with pytest.raises(ValueError, match=r"needs both real \(0\) and fake \(1\)"):
        call(np.full(6, label), np.linspace(0, 1, 6))


def test_bad_arguments():
    labels, scores = _case(0, 50)
    with pytest.raises(ValueError, match="unknown threshold rule 'f1'"):
        threshold_for(labels, scores, "f1")
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\]"):
        tpr_at_fpr(labels, scores, 5)
    with pytest.raises(ValueError, match="cannot bootstrap"):
        bootstrap_ci(labels, scores, ("eer",))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(labels, scores, level=95)
    with pytest.raises(ValueError, match="n "):
        bootstrap_ci(labels, scores, n=0)


# -- bootstrap ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "p_fake", "decimals", "threshold"),
                         [(120, 0.5, None, 0.5), (90, 0.3, 1, 0.4), (61, 0.7, 2, 0.6)])
def test_bootstrap_matches_a_loop_with_the_same_draws(n, p_fake, decimals, threshold):
    labels, scores = _case(5, n, p_fake, decimals)
    got = bootstrap_ci(labels, scores, ("acc", "auc"), n=300, seed=11, level=0.9,
                       threshold=threshold)
    want = _loop_bootstrap(labels, scores, 300, 11, 0.9, threshold)
    for metric in ("acc", "auc"):
        assert got[metric] == pytest.approx(want[metric], abs=TOL), metric


def test_bootstrap_does_not_depend_on_the_chunk_size(monkeypatch):
    labels, scores = _case(2, 200, decimals=2)
    metrics = ("acc", "real_acc", "fake_acc", "auc")
    whole = bootstrap_ci(labels, scores, metrics, n=64, seed=3)
    monkeypatch.setattr(M, "_BOOTSTRAP_CHUNK", 7 * 200)  # 7 resamples per chunk
    assert bootstrap_ci(labels, scores, metrics, n=64, seed=3) == whole
    assert bootstrap_ci(labels, scores, metrics, n=64, seed=4) != whole


def test_bootstrap_is_stratified_and_sane():
    labels, scores = _case(4, 400)
    point = compute_metrics(labels, scores)
    ci = bootstrap_ci(labels, scores, ("acc", "real_acc", "fake_acc", "auc"), n=500)
    for metric, (low, high) in ci.items():
        assert low <= point[metric] <= high, metric
    # per-class accuracies resample each class alone: n_real of them, never another count
    n_real = point["n_real"]
    assert math.isclose(ci["real_acc"][0] * n_real / 100, round(ci["real_acc"][0] * n_real / 100))
    big_labels, big_scores = _case(4, 8000)
    big = bootstrap_ci(big_labels, big_scores, ("acc", "auc"), n=500)
    for metric in ("acc", "auc"):
        assert big[metric][1] - big[metric][0] < 0.5 * (ci[metric][1] - ci[metric][0])


def test_extended_metrics_keys_and_values():
    labels, scores = _case(6, 600)
    base = compute_metrics(labels, scores)
    ext = extended_metrics(labels, scores, n_boot=200, seed=1)
    assert list(ext) == [*base, *EXTENDED_COLUMNS]
    assert {k: ext[k] for k in base} == base
    assert ext["eer"] == eer(labels, scores)
    assert ext["tpr_at_fpr1"] == tpr_at_fpr(labels, scores, 0.01)
    assert ext["tpr_at_fpr5"] == tpr_at_fpr(labels, scores, 0.05)
    ci = bootstrap_ci(labels, scores, ("acc", "auc"), n=200, seed=1)
    assert (ext["acc_ci_low"], ext["acc_ci_high"]) == ci["acc"]
    assert (ext["auc_ci_low"], ext["auc_ci_high"]) == ci["auc"]
    skipped = extended_metrics(labels, scores, n_boot=0)
    assert math.isnan(skipped["acc_ci_low"]) and skipped["eer"] == ext["eer"]


def test_extended_metrics_on_one_class_is_nan_not_an_error():
    ext = extended_metrics(np.zeros(10, dtype=int), np.linspace(0, 1, 10))
    assert ext["n_fake"] == 0 and ext["acc"] == 50.0
    assert all(math.isnan(ext[k]) for k in EXTENDED_COLUMNS)
