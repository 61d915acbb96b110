"""Detection metrics for real-vs-fake image classifiers.

Conventions
-----------
* ``labels``: ``0`` = real image, ``1`` = fake (AI-generated) image. *Fake is the positive
  class* for the ranking metrics (AUC, AP).
* ``scores``: the detector's probability that the image is fake, in ``[0, 1]``
  (``sigmoid(logit)``; see :func:`sigmoid`). Higher means "more fake".
* Every metric is reported in **percent** (0..100).

The metric of the GenImage paper (and of CNNDetection, whose evaluation code it follows) is
the **classification accuracy at threshold 0.5**, computed on test sets holding equal
numbers of real and fake images. ``acc`` below is that number; ``real_acc``/``fake_acc``
split it by class, and ``auc``/``ap`` are threshold-free ranking metrics reported alongside.

Threshold rule
--------------
An image is predicted *fake* iff ``score > threshold`` (strictly greater); a score exactly
equal to the threshold is predicted *real*. This is what CNNDetection's ``validate.py``
does (``accuracy_score(y_true, y_pred > 0.5)``), so results match the published numbers.

Only numpy is used (float64, vectorised, one sort: O(n log n)). ``auc`` and ``ap`` agree with
``sklearn.metrics.roc_auc_score`` and ``sklearn.metrics.average_precision_score`` (times 100)
up to floating-point rounding, tied scores included.

Beyond threshold 0.5
--------------------
Accuracy at 0.5 mixes how well a detector ranks images with how well its scores are calibrated.
The functions below separate the two (all percent, fake = positive):

* :func:`eer`: the equal error rate, where the ROC curve crosses ``FPR = FNR``.
* :func:`tpr_at_fpr`: the detection rate at a bounded false-alarm rate (1% and 5% in
  :func:`extended_metrics`).
* :func:`threshold_for` and :func:`accuracy_at`: a threshold chosen on labelled scores
  (calibrated on a held-out split, or the oracle of a test subset) and the accuracy it gives.
* :func:`bootstrap_ci`: seeded, stratified percentile-bootstrap intervals of accuracy and AUC.
* :func:`extended_metrics`: :func:`compute_metrics` plus all of these.

The ROC points behind them are the *cuts* between distinct scores: with the distinct scores
``u_1 < ... < u_k``, cut ``j`` (``0..k``) predicts *real* the images with ``score <= u_j`` and
*fake* the others, which is the rule ``score > t`` for any ``t`` in ``[u_j, u_{j+1})``. Cut ``k``
is the ROC point ``(0, 0)`` and cut ``0`` the point ``(1, 1)``; tied scores always fall on the
same side, as in scikit-learn's ``roc_curve``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "BOOTSTRAP_METRICS",
    "EXTENDED_COLUMNS",
    "METRIC_COLUMNS",
    "THRESHOLD_RULES",
    "accuracy_at",
    "bootstrap_ci",
    "compute_metrics",
    "eer",
    "extended_metrics",
    "sigmoid",
    "threshold_for",
    "tpr_at_fpr",
]

#: The float metrics returned by :func:`compute_metrics`, in display order (all in percent).
METRIC_COLUMNS: tuple[str, ...] = ("acc", "real_acc", "fake_acc", "auc", "ap")


def sigmoid(logits: npt.ArrayLike) -> np.ndarray:
    """Numerically stable logistic function ``1 / (1 + exp(-x))``, as float64.

    Never overflows: for ``x >= 0`` it evaluates ``1 / (1 + exp(-x))`` and for ``x < 0``
    ``exp(x) / (1 + exp(x))``, both via ``exp(-|x|)`` which lies in ``(0, 1]``. ``±inf`` map
    to ``1`` / ``0``; NaN stays NaN. The output has the input's shape.
    """
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _validate(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in shape: {y.shape} vs {s.shape}")
    y = y.ravel()
    s = s.ravel()
    if y.size == 0:
        raise ValueError("cannot compute metrics on an empty set: no labels/scores given")
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    bad_labels = (y != 0) & (y != 1)
    if np.any(bad_labels):
        found = np.unique(y[bad_labels])[:5].tolist()
        raise ValueError(f"labels must be 0 (real) or 1 (fake); found {found}")
    n_nan = int(np.count_nonzero(np.isnan(s)))
    if n_nan:
        raise ValueError(f"scores contain {n_nan} NaN value(s) out of {s.size}")
    n_out = int(np.count_nonzero((s < 0.0) | (s > 1.0)))
    if n_out:
        raise ValueError(
            f"scores must be probabilities in [0, 1]; {n_out} value(s) are outside "
            "(pass sigmoid(logits), not raw logits)"
        )
    return y.astype(bool), s


def _ranking_metrics(is_fake: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """ROC AUC and average precision as fractions (0..1); both classes must be present.

    Scores are sorted in decreasing order and grouped into distinct values (the thresholds).
    At each threshold ``t`` the cumulative true/false positive counts ``TP(t)``/``FP(t)``
    count the images with ``score >= t``; tied scores enter together, so ties are handled
    exactly as in scikit-learn.

    * AUC is the trapezoidal area under the ROC curve through ``(0, 0)`` and every
      ``(FP/N, TP/P)``, i.e. the Mann-Whitney statistic
      ``P(score_fake > score_real) + 0.5 * P(score_fake == score_real)``.
    * AP is ``sum_n (R_n - R_{n-1}) * P_n`` over the thresholds with recall ``R = TP/P``,
      precision ``P = TP/(TP+FP)`` and ``R_0 = 0`` (no interpolation).
    """
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    pos_sorted = is_fake[order].astype(np.float64)
    # last index of each run of equal scores (the distinct thresholds, descending)
    last_idx = np.append(np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1)
    tp = np.cumsum(pos_sorted)[last_idx]
    fp = (last_idx + 1).astype(np.float64) - tp
    n_pos = tp[-1]
    n_neg = fp[-1]

    tp0 = np.concatenate(([0.0], tp))
    fp0 = np.concatenate(([0.0], fp))
    # integer-valued products -> the area sum is exact until the final division
    auc = float(np.sum(np.diff(fp0) * (tp0[1:] + tp0[:-1])) / (2.0 * n_pos * n_neg))

    precision = tp / (tp + fp)
    ap = float(np.sum(np.diff(tp0) * precision) / n_pos)
    return auc, ap


def compute_metrics(
    labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy, per-class accuracy, ROC AUC and average precision of a real/fake detector.

    Args:
        labels: 0 (real) / 1 (fake) per image; bools are accepted. Fake is the positive class.
        scores: probability of "fake" per image, in ``[0, 1]`` (``sigmoid(logit)``); same
            shape as ``labels``.
        threshold: decision threshold; an image is predicted fake iff ``score > threshold``
            (strictly greater, as CNNDetection's ``validate.py``: a score equal to the
            threshold counts as real).

    Returns:
        A dict with, in percent (0..100):

        * ``acc``: share of all images classified correctly at ``threshold``. At 0.5 on a
          balanced real/fake test set this is the metric reported by the GenImage paper.
        * ``real_acc``: share of real images (label 0) with ``score <= threshold``;
          NaN if there is no real image.
        * ``fake_acc``: share of fake images (label 1) with ``score > threshold``;
          NaN if there is no fake image.
        * ``auc``: area under the ROC curve, fake as positive; ties count one half
          (Mann-Whitney / average-rank statistic), equal to
          ``100 * sklearn.metrics.roc_auc_score``. NaN unless both classes are present.
        * ``ap``: average precision ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score
          thresholds (tied scores grouped, no interpolation), equal to
          ``100 * sklearn.metrics.average_precision_score``. NaN unless both classes are
          present.

        and the integer counts ``n_real`` and ``n_fake``.

    Raises:
        ValueError: if the input is empty, the shapes differ, a label is not 0/1, or a score
            is NaN (the message gives how many) or outside ``[0, 1]``.
    """
    is_fake, s = _validate(labels, scores)
    n_fake = int(np.count_nonzero(is_fake))
    n_real = int(is_fake.size - n_fake)
    if n_real and n_fake:
        auc, ap = _ranking_metrics(is_fake, s)
        auc, ap = 100.0 * auc, 100.0 * ap
    else:
        auc = ap = float("nan")
    return {
        **_accuracies(is_fake, s, threshold),
        "auc": auc,
        "ap": ap,
        "n_real": n_real,
        "n_fake": n_fake,
    }


def _accuracies(is_fake: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """``acc``, ``real_acc``, ``fake_acc`` (percent) at ``threshold``; NaN for a missing class."""
    correct = (s > threshold) == is_fake
    n_fake = int(np.count_nonzero(is_fake))
    n_real = int(is_fake.size - n_fake)
    acc = 100.0 * float(np.count_nonzero(correct)) / is_fake.size
    real_acc = 100.0 * np.count_nonzero(correct[~is_fake]) / n_real if n_real else float("nan")
    fake_acc = 100.0 * np.count_nonzero(correct[is_fake]) / n_fake if n_fake else float("nan")
    return {"acc": acc, "real_acc": float(real_acc), "fake_acc": float(fake_acc)}


# ---------------------------------------------------------------------------------------------
# Beyond threshold 0.5: EER, TPR at a fixed FPR, chosen thresholds, bootstrap intervals.
# ---------------------------------------------------------------------------------------------

#: The columns :func:`extended_metrics` adds to those of :func:`compute_metrics` (all percent).
EXTENDED_COLUMNS: tuple[str, ...] = (
    "eer", "tpr_at_fpr1", "tpr_at_fpr5", "acc_ci_low", "acc_ci_high", "auc_ci_low", "auc_ci_high",
)
#: The rules :func:`threshold_for` knows.
THRESHOLD_RULES: tuple[str, ...] = ("acc", "eer")
#: The metrics :func:`bootstrap_ci` can resample.
BOOTSTRAP_METRICS: tuple[str, ...] = ("acc", "real_acc", "fake_acc", "auc")
#: Resamples × images drawn at once by :func:`bootstrap_ci`: bounds its memory (about 40 MB
#: at peak whatever the size; 1000 resamples of 12,000 images take about 0.3 s).
_BOOTSTRAP_CHUNK = 1 << 20


def _both_classes(
    labels: npt.ArrayLike, scores: npt.ArrayLike, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_validate`, then a clear ``ValueError`` unless both classes are present."""
    is_fake, s = _validate(labels, scores)
    n_fake = int(np.count_nonzero(is_fake))
    if n_fake in (0, is_fake.size):
        only = "fake (1)" if n_fake else "real (0)"
        raise ValueError(f"{what} needs both real (0) and fake (1) images; all {is_fake.size} "
                         f"labels are {only}")
    return is_fake, s


class _Cuts:
    """The ROC points as the cuts between distinct scores (module docstring), in integers.

    ``tn[j]`` / ``fn[j]`` count the real / fake images with ``score <= u_j`` (predicted real at
    cut ``j``; ``j = 0..k``, ``tn[0] = fn[0] = 0``); ``fp`` and ``tp`` are the complements.
    """

    def __init__(self, is_fake: np.ndarray, s: np.ndarray) -> None:
        self.values = np.unique(s)  # u_1 < ... < u_k
        self.n_real = int(np.count_nonzero(~is_fake))
        self.n_fake = int(is_fake.size - self.n_real)
        zero = np.zeros(1, dtype=np.int64)
        self.tn = np.concatenate((zero, np.searchsorted(np.sort(s[~is_fake]), self.values,
                                                        side="right")))
        self.fn = np.concatenate((zero, np.searchsorted(np.sort(s[is_fake]), self.values,
                                                        side="right")))
        self.fp = self.n_real - self.tn
        self.tp = self.n_fake - self.fn

    def gap(self) -> np.ndarray:
        """``N·P·(FPR − FNR)`` per cut, exact in integers: strictly decreasing from ``N·P``
        (cut 0) to ``−N·P`` (cut k), since each step moves at least one image."""
        return self.fp * self.n_fake - self.fn * self.n_real

    def thresholds(self) -> np.ndarray:
        """Per cut, the threshold midway between ``u_j`` and ``u_{j+1}``; half a unit beyond
        the extreme score for the cuts that put every image on one side (``j = 0``, ``k``)."""
        u = self.values
        mid = (u[:-1] + u[1:]) / 2.0
        # a midpoint of two adjacent doubles may round up onto u_{j+1}; u_j itself is exact
        mid = np.where(mid < u[1:], mid, u[:-1])
        return np.concatenate(([u[0] - 0.5], mid, [u[-1] + 0.5]))


def _eer(cuts: _Cuts) -> float:
    d = cuts.gap()
    j = int(np.argmax(d <= 0))  # the first cut at or past the crossing; j >= 1
    fpr = cuts.fp / cuts.n_real
    if d[j] == 0:
        return 100.0 * float(fpr[j])
    w = d[j - 1] / (d[j - 1] - d[j])  # where FPR − FNR, linear on the segment, is zero
    return 100.0 * float(fpr[j - 1] + w * (fpr[j] - fpr[j - 1]))


def eer(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Equal error rate (percent): where the ROC curve crosses the line ``FPR = FNR``.

    Convention: the ROC points are those of every distinct score (tied scores move together, as
    in ``sklearn.metrics.roc_curve(drop_intermediate=False)``) joined by straight segments;
    ``FPR − FNR`` is strictly monotone along them, so the crossing is unique. If it falls on a
    ROC point the EER is that point's FPR (= FNR); otherwise it is the FPR (= FNR) at the
    crossing, linearly interpolated between the two points on either side. All scores equal
    gives 50; perfect separation gives 0.

    Raises:
        ValueError: as :func:`compute_metrics`, and unless both classes are present.
    """
    return _eer(_Cuts(*_both_classes(labels, scores, "eer")))


def _tpr_at(cuts: _Cuts, fpr: float) -> float:
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr must be a fraction in [0, 1] (0.01 for 1%), got {fpr}")
    allowed = math.floor(fpr * cuts.n_real + 1e-9)  # the most false positives allowed
    return 100.0 * float(cuts.tp[cuts.fp <= allowed].max()) / cuts.n_fake


def tpr_at_fpr(labels: npt.ArrayLike, scores: npt.ArrayLike, fpr: float) -> float:
    """The highest true-positive rate (percent) at a false-positive rate of at most ``fpr``.

    ``fpr`` is a fraction (``0.01`` for 1%). Convention: only attainable operating points count
    — the ROC points of the distinct scores, ``(0, 0)`` included — with no interpolation between
    them, so the result is the detection rate of an actual threshold whose false alarms on the
    real images number at most ``floor(fpr · n_real)`` (``1e-9`` of slack for rounding).

    Raises:
        ValueError: as :func:`compute_metrics`, unless both classes are present, or ``fpr`` is
            outside ``[0, 1]``.
    """
    return _tpr_at(_Cuts(*_both_classes(labels, scores, "tpr_at_fpr")), fpr)


def threshold_for(labels: npt.ArrayLike, scores: npt.ArrayLike, rule: str = "acc") -> float:
    """A decision threshold chosen on labelled scores, for the rule ``fake iff score > t``.

    Rules:

    * ``"acc"``: the threshold of highest accuracy on these labels (unweighted: on a balanced
      set, the balanced accuracy). Used to calibrate on a held-out split and, on a test subset,
      as the oracle threshold.
    * ``"eer"``: the cut nearest the equal error rate (smallest ``|FPR − FNR|``; one of the
      two ROC points either side of the crossing that :func:`eer` interpolates).

    Conventions: the threshold always lies midway between the two adjacent distinct scores of
    the chosen cut (module docstring), never on a score, so it does not hinge on how ties at a
    score are broken; a cut that puts every image on one side gives a threshold half a unit
    beyond the extreme score. When several cuts are equally good, the one whose threshold is
    closest to 0.5 (the default) wins, then the lower threshold: the result is deterministic.

    Raises:
        ValueError: as :func:`compute_metrics`, unless both classes are present, or for an
            unknown rule.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; known: {', '.join(THRESHOLD_RULES)}")
    cuts = _Cuts(*_both_classes(labels, scores, "threshold_for"))
    if rule == "acc":
        quality = cuts.tn + cuts.tp  # images classified correctly at each cut
    else:
        quality = -np.abs(cuts.gap())
    candidates = cuts.thresholds()[quality == quality.max()]
    return float(candidates[np.lexsort((candidates, np.abs(candidates - 0.5)))[0]])


def accuracy_at(
    labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float
) -> dict[str, float]:
    """``acc``, ``real_acc`` and ``fake_acc`` (percent) at ``threshold``, as in
    :func:`compute_metrics` (fake iff ``score > threshold``; NaN for a missing class)."""
    is_fake, s = _validate(labels, scores)
    return _accuracies(is_fake, s, threshold)


def bootstrap_ci(
    labels: npt.ArrayLike,
    scores: npt.ArrayLike,
    metrics: tuple[str, ...] | list[str] = ("acc", "auc"),
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    threshold: float = 0.5,
) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap confidence intervals (percent) of accuracy and AUC.

    Stratified by label: each of the ``n`` resamples draws ``n_real`` real images from the
    real ones and ``n_fake`` fake images from the fake ones, with replacement, so every
    resample has both classes and the class balance of the data. The draws are fixed by
    ``seed``: resample ``b``'s reals are row ``b`` of
    ``default_rng([seed, 0]).integers(0, n_real, size=(n, n_real))``, indexing the real
    images in input order, and its fakes row ``b`` of
    ``default_rng([seed, 1]).integers(0, n_fake, size=(n, n_fake))``. The rows are drawn in
    chunks (to bound memory) that yield the same rows, so the interval does not depend on the
    chunk size.

    Each metric is computed for all resamples of a chunk at once: accuracies (at
    ``threshold``, fake iff ``score > threshold``) as sums of per-image hits over the drawn
    indices; AUC as the Mann-Whitney statistic ``sum over drawn fakes of (#drawn reals below
    + 0.5 · #drawn reals tied)``, the mid-rank form with ties, read off the cumulative counts
    of the drawn reals along the reals' sorted scores (no Python loop over resamples). The
    interval is ``numpy.percentile`` (linear) of the ``n`` values at ``(1 ± level) / 2``.

    Args:
        metrics: any of :data:`BOOTSTRAP_METRICS`.
        n: number of resamples (>= 1).
        level: coverage of the interval, in ``(0, 1)``.

    Returns:
        ``{metric: (low, high)}`` in percent.

    Raises:
        ValueError: as :func:`compute_metrics`, unless both classes are present, or for an
            unknown metric, ``n < 1`` or ``level`` outside ``(0, 1)``.
    """
    unknown = [m for m in metrics if m not in BOOTSTRAP_METRICS]
    if unknown:
        raise ValueError(f"cannot bootstrap {unknown}; known: {', '.join(BOOTSTRAP_METRICS)}")
    if n < 1:
        raise ValueError(f"n (the number of resamples) must be >= 1, got {n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    is_fake, s = _both_classes(labels, scores, "bootstrap_ci")
    real, fake = s[~is_fake], s[is_fake]
    values = {m: np.empty(n) for m in metrics}
    rng_real = np.random.default_rng([seed, 0])
    rng_fake = np.random.default_rng([seed, 1])
    chunk = max(1, _BOOTSTRAP_CHUNK // s.size)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        idx_real = rng_real.integers(0, real.size, size=(rows, real.size))
        idx_fake = rng_fake.integers(0, fake.size, size=(rows, fake.size))
        resampled = _resampled(real, fake, idx_real, idx_fake, metrics, threshold)
        for metric in metrics:
            values[metric][start:start + rows] = resampled[metric]
    q = 50.0 * (1.0 - level), 50.0 * (1.0 + level)
    out = {}
    for metric in metrics:
        low, high = np.percentile(values[metric], q)
        out[metric] = (float(low), float(high))
    return out


def _resampled(
    real: np.ndarray, fake: np.ndarray, idx_real: np.ndarray, idx_fake: np.ndarray,
    metrics: tuple[str, ...] | list[str], threshold: float,
) -> dict[str, np.ndarray]:
    """The metrics (percent) of the resamples given by the rows of the index matrices."""
    out: dict[str, np.ndarray] = {}
    if {"acc", "real_acc", "fake_acc"} & set(metrics):
        real_hits = np.count_nonzero((real <= threshold)[idx_real], axis=1)
        fake_hits = np.count_nonzero((fake > threshold)[idx_fake], axis=1)
        out["acc"] = 100.0 * (real_hits + fake_hits) / (real.size + fake.size)
        out["real_acc"] = 100.0 * real_hits / real.size
        out["fake_acc"] = 100.0 * fake_hits / fake.size
    if "auc" in metrics:
        rows = idx_real.shape[0]
        order = np.argsort(real, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(real.size)  # where each real image sits in sorted order
        sorted_real = real[order]
        # counts[b, i]: how often resample b drew the i-th lowest real; cum: counts below
        flat = (position[idx_real] + real.size * np.arange(rows)[:, None]).ravel()
        counts = np.bincount(flat, minlength=rows * real.size).reshape(rows, real.size)
        cum = np.zeros((rows, real.size + 1), dtype=np.int64)
        np.cumsum(counts, axis=1, out=cum[:, 1:])
        below = np.searchsorted(sorted_real, fake, side="left")[idx_fake]
        up_to = np.searchsorted(sorted_real, fake, side="right")[idx_fake]
        u_twice = (np.take_along_axis(cum, below, axis=1)
                   + np.take_along_axis(cum, up_to, axis=1)).sum(axis=1)
        out["auc"] = 100.0 * u_twice / (2.0 * real.size * fake.size)
    return out


def extended_metrics(
    labels: npt.ArrayLike,
    probs: npt.ArrayLike,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """:func:`compute_metrics` plus :data:`EXTENDED_COLUMNS` (percent).

    ``eer`` (:func:`eer`), ``tpr_at_fpr1`` / ``tpr_at_fpr5`` (:func:`tpr_at_fpr` at 1% / 5%),
    and the bootstrap intervals ``acc_ci_low``/``acc_ci_high`` and ``auc_ci_low``/
    ``auc_ci_high`` (:func:`bootstrap_ci` with ``n_boot`` resamples, ``seed``, ``level`` and
    ``threshold``). Where a class is missing (a folder of real images only) these are NaN, like
    ``auc``; ``n_boot=0`` skips the bootstrap (intervals NaN).
    """
    out: dict[str, float] = {**compute_metrics(labels, probs, threshold),
                             **dict.fromkeys(EXTENDED_COLUMNS, float("nan"))}
    if not (out["n_real"] and out["n_fake"]):
        return out
    cuts = _Cuts(*_validate(labels, probs))
    out["eer"] = _eer(cuts)
    out["tpr_at_fpr1"] = _tpr_at(cuts, 0.01)
    out["tpr_at_fpr5"] = _tpr_at(cuts, 0.05)
    if n_boot:
        ci = bootstrap_ci(labels, probs, ("acc", "auc"), n=n_boot, seed=seed, level=level,
                          threshold=threshold)
        for metric, (low, high) in ci.items():
            out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = low, high
    return out
