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
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["METRIC_COLUMNS", "compute_metrics", "sigmoid"]

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
    pred_fake = s > threshold
    correct = pred_fake == is_fake
    n_fake = int(np.count_nonzero(is_fake))
    n_real = int(is_fake.size - n_fake)

    acc = 100.0 * float(np.count_nonzero(correct)) / is_fake.size
    real_acc = 100.0 * np.count_nonzero(correct[~is_fake]) / n_real if n_real else float("nan")
    fake_acc = 100.0 * np.count_nonzero(correct[is_fake]) / n_fake if n_fake else float("nan")
    if n_real and n_fake:
        auc, ap = _ranking_metrics(is_fake, s)
        auc, ap = 100.0 * auc, 100.0 * ap
    else:
        auc = ap = float("nan")
    return {
        "acc": acc,
        "real_acc": float(real_acc),
        "fake_acc": float(fake_acc),
        "auc": auc,
        "ap": ap,
        "n_real": n_real,
        "n_fake": n_fake,
    }
