"""Tests for gibench.metrics, checked against scikit-learn (a test-only dependency)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from gibench.metrics import METRIC_COLUMNS, compute_metrics, sigmoid

TOL = 1e-9  # in percent units


def _sklearn_reference(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    pred = scores > threshold  # CNNDetection: accuracy_score(y_true, y_pred > 0.5)
    real, fake = labels == 0, labels == 1
    return {
        "acc": 100 * accuracy_score(labels, pred),
        "real_acc": 100 * accuracy_score(labels[real], pred[real]),
        "fake_acc": 100 * accuracy_score(labels[fake], pred[fake]),
        "auc": 100 * roc_auc_score(labels, scores),
        "ap": 100 * average_precision_score(labels, scores),
    }


def _random_case(seed: int, n: int, p_fake: float, decimals: int | None) -> tuple:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < p_fake).astype(int)
    labels[0], labels[1] = 0, 1  # both classes present
    # informative but noisy scores: fakes score higher on average
    scores = sigmoid(rng.normal(size=n) + 1.2 * labels - 0.3)
    if decimals is not None:
        scores = np.round(scores, decimals)
    return labels, scores


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("n", "p_fake", "decimals"),
    [
        (500, 0.5, None),  # balanced, (almost surely) no ties
        (500, 0.5, 1),  # heavily tied: 11 distinct values at most
        (300, 0.1, None),  # few fakes
        (300, 0.9, 2),  # few reals, tied
        (50, 0.5, 0),  # scores only 0.0 / 1.0
    ],
)
def test_matches_sklearn_random(seed: int, n: int, p_fake: float, decimals: int | None) -> None:
    labels, scores = _random_case(seed, n, p_fake, decimals)
    got = compute_metrics(labels, scores)
    want = _sklearn_reference(labels, scores)
    for key in METRIC_COLUMNS:
        assert got[key] == pytest.approx(want[key], abs=TOL), key
    assert got["n_real"] == int(np.sum(labels == 0))
    assert got["n_fake"] == int(np.sum(labels == 1))


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.7])
def test_threshold_matches_sklearn_with_strict_rule(threshold: float) -> None:
    labels, scores = _random_case(7, 400, 0.5, 1)  # many scores exactly at 0.2/0.5/0.7
    assert np.any(scores == threshold)
    got = compute_metrics(labels, scores, threshold=threshold)
    want = _sklearn_reference(labels, scores, threshold)
    for key in ("acc", "real_acc", "fake_acc"):
        assert got[key] == pytest.approx(want[key], abs=TOL), key


def test_metric_columns_and_keys() -> None:
    assert METRIC_COLUMNS == ("acc", "real_acc", "fake_acc", "auc", "ap")
    got = compute_metrics([0, 1], [0.1, 0.9])
    assert set(got) == {*METRIC_COLUMNS, "n_real", "n_fake"}
    assert isinstance(got["n_real"], int) and isinstance(got["n_fake"], int)
    assert all(isinstance(got[k], float) for k in METRIC_COLUMNS)


def test_perfect_separation_is_100() -> None:
    got = compute_metrics([0, 0, 0, 1, 1], [0.0, 0.2, 0.4, 0.6, 1.0])
    for key in METRIC_COLUMNS:
        assert got[key] == 100.0, key
    assert (got["n_real"], got["n_fake"]) == (3, 2)


def test_inverted_scores_give_auc_zero() -> None:
    got = compute_metrics([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])
    assert got["auc"] == 0.0
    assert got["acc"] == 0.0 and got["real_acc"] == 0.0 and got["fake_acc"] == 0.0
    # AP of a fully inverted ranking: fakes at ranks 3 and 4 -> (1/3 + 2/4) / 2
    assert got["ap"] == pytest.approx(100 * (1 / 3 + 2 / 4) / 2, abs=TOL)


def test_all_scores_equal_gives_auc_50() -> None:
    labels = [0, 1, 1, 0, 1]
    got = compute_metrics(labels, [0.3] * 5)
    assert got["auc"] == pytest.approx(50.0, abs=TOL)
    # one threshold holding everything: AP = precision = prevalence
    assert got["ap"] == pytest.approx(60.0, abs=TOL)
    assert got["real_acc"] == 100.0 and got["fake_acc"] == 0.0
    assert got["acc"] == pytest.approx(40.0)


def test_score_exactly_at_threshold_counts_as_real() -> None:
    got = compute_metrics([0, 1], [0.5, 0.5])
    assert got["real_acc"] == 100.0
    assert got["fake_acc"] == 0.0
    assert got["acc"] == 50.0
    just_above = float(np.nextafter(0.5, 1.0))
    assert compute_metrics([1], [just_above])["fake_acc"] == 100.0
    assert compute_metrics([0.0, 1.0], [0.5, 0.5], threshold=0.4)["fake_acc"] == 100.0


@pytest.mark.parametrize(
    ("labels", "absent"),
    [([0, 0, 0], "fake_acc"), ([1, 1], "real_acc")],
)
def test_single_class_gives_nan_not_exception(labels: list[int], absent: str) -> None:
    scores = [0.2, 0.7, 0.9][: len(labels)]
    got = compute_metrics(labels, scores)
    assert math.isnan(got["auc"])
    assert math.isnan(got["ap"])
    assert math.isnan(got[absent])
    present = "real_acc" if absent == "fake_acc" else "fake_acc"
    assert not math.isnan(got[present])
    assert got[present] == pytest.approx(got["acc"])
    expected_acc = 100 * np.mean((np.array(scores) > 0.5) == np.array(labels, dtype=bool))
    assert got["acc"] == pytest.approx(expected_acc)


def test_empty_input_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        compute_metrics([], [])


def test_nan_scores_raise_with_count() -> None:
    with pytest.raises(ValueError, match=r"\b2 NaN"):
        compute_metrics([0, 1, 1, 0], [0.1, float("nan"), 0.5, float("nan")])


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="shape"):
        compute_metrics([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="0 \\(real\\) or 1 \\(fake\\)"):
        compute_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        compute_metrics([0, 1], [-3.0, 2.5])  # raw logits instead of probabilities


def test_bool_labels_and_2d_inputs_accepted() -> None:
    labels, scores = _random_case(3, 60, 0.5, 1)
    ref = compute_metrics(labels, scores)
    assert compute_metrics(labels.astype(bool), scores) == ref
    assert compute_metrics(labels.reshape(6, 10), scores.reshape(6, 10)) == ref


def test_sigmoid_stable_and_correct() -> None:
    x = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0, -np.inf, np.inf])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        y = sigmoid(x)
    assert y.dtype == np.float64 and y.shape == x.shape
    assert np.all(np.isfinite(y)) and np.all((y >= 0) & (y <= 1))
    assert y[3] == 0.5
    assert y[0] == 0.0 and y[-2] == 0.0 and y[-1] == 1.0 and y[6] == 1.0
    mid = np.array([-5.0, -1.0, 1.0, 5.0])
    np.testing.assert_allclose(sigmoid(mid), 1 / (1 + np.exp(-mid)), rtol=1e-15)
    assert sigmoid(-50.0) == pytest.approx(math.exp(-50.0), rel=1e-12)  # no cancellation
    np.testing.assert_allclose(sigmoid(mid) + sigmoid(-mid), 1.0, rtol=1e-15)
    assert math.isnan(float(sigmoid(np.nan)))


@st.composite
def _labels_and_scores(draw: st.DrawFn) -> tuple[list[int], list[float]]:
    n = draw(st.integers(min_value=2, max_value=30))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    labels[0], labels[1] = 0, 1
    # a small pool of values -> many ties; plus arbitrary floats in [0, 1]
    value = st.one_of(
        st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    )
    scores = draw(st.lists(value, min_size=n, max_size=n))
    return labels, scores


@settings(max_examples=200, deadline=None)
@given(_labels_and_scores())
def test_property_auc_ap_match_sklearn(case: tuple[list[int], list[float]]) -> None:
    labels, scores = case
    y, s = np.array(labels), np.array(scores)
    got = compute_metrics(y, s)
    assert got["auc"] == pytest.approx(100 * roc_auc_score(y, s), abs=TOL)
    assert got["ap"] == pytest.approx(100 * average_precision_score(y, s), abs=TOL)
    assert 0.0 <= got["auc"] <= 100.0 and 0.0 < got["ap"] <= 100.0
    assert got["acc"] == pytest.approx(100 * accuracy_score(y, s > 0.5), abs=TOL)


def test_large_input_is_fast_and_consistent() -> None:
    labels, scores = _random_case(11, 200_000, 0.5, 3)
    got = compute_metrics(labels, scores)
    assert got["auc"] == pytest.approx(100 * roc_auc_score(labels, scores), abs=1e-7)
    assert got["ap"] == pytest.approx(100 * average_precision_score(labels, scores), abs=1e-7)
