"""A run's evaluations: one pass over a test subset's files for one model or many, their result
rows and per-image scores, resumable through the run's ``partial/`` files.

The scoring loops themselves are :mod:`gibench.engine.evaluate`'s; this module gives them a
run's data (its sharded index, options, transforms, decode cache) and turns their scores into
the run's records (:class:`gibench.engine.results.RunRecords`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gibench.data.eval_policy import is_native
from gibench.data.layout import ImageIndex
from gibench.engine.distributed import gather_scores, shard_index
from gibench.engine.evaluate import (
    Head,
    Scores,
    Setting,
    predict,
    predict_many,
    predict_settings_many,
)
from gibench.engine.models import TrainedModel
from gibench.errors import GibenchError
from gibench.metrics import EXTENDED_COLUMNS, accuracy_at, extended_metrics, sigmoid, threshold_for
from gibench.registry import notify
from gibench.rundir import GIVEN_WEIGHTS, score_columns

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from gibench.engine.context import RunContext


def evaluate_shared(members: Sequence[tuple[RunContext, TrainedModel]], test_subset: str,
                    settings: list[Setting] | None = None, split: str | None = None,
                    label: str = "none") -> list[list[dict[str, Any]]]:
    """Evaluate every (context, model) pair on ``test_subset`` in one pass over its files.

    The pairs may belong to one context (the matrix suite's models) or to several (``gibench
    eval`` with several detectors or weights: one run directory each); the contexts must read
    the same data the same way (data root, ``--align``, seed, workers, device: the callers
    check). Each pair gets exactly what an evaluation of it alone would give it: without
    ``settings`` one clean row labelled ``label`` (:meth:`RunContext.evaluate`), else one row
    per setting (:meth:`RunContext.evaluate_settings`); the same scores, bad files and
    ``partial/`` files in its context. With ``--resume`` the pairs whose evaluation was saved
    are read back and only the others are scored, in one pass. ``split`` defaults to the
    evaluation split of the test subset's dataset. Returns each pair's rows."""
    split = split or members[0][0].names.eval_split_of(test_subset)
    names = [s.name for s in settings] if settings is not None else [label]
    pending = [k for k, (ctx, trained) in enumerate(members)
               if not ctx.records.is_saved(trained, test_subset, split, names)]
    computed = dict(zip(pending, _score_pass([members[k] for k in pending], test_subset,
                                              settings, split) if pending else [],
                        strict=True))
    clean_label = None if settings is not None else label
    out = []
    for k, (ctx, trained) in enumerate(members):
        def compute(k: int = k, ctx: RunContext = ctx, trained: TrainedModel = trained) -> None:
            _record_scores(ctx, trained, test_subset, split, computed[k], clean_label)

        out.append(ctx.records.saved(trained, test_subset, split, names, compute))
        if k in computed and ctx.job.main:  # not for an evaluation read back by --resume
            notify(ctx.registry, "gibench_evaluation_finished", run_dir=ctx.run_dir,
                   rows=out[-1])
    return out


def _score_pass(members: list[tuple[RunContext, TrainedModel]], test_subset: str,
                settings: list[Setting] | None, split: str) -> list[dict[str, Scores]]:
    """One pass over ``test_subset``'s files for every pair: per pair, its :class:`Scores` per
    setting name (``"none"`` alone without ``settings``), gathered over the torchrun job. The
    pass's time is added once to each context's timings.

    The batch size is the smallest of the contexts' :attr:`RunContext.eval_batch_size`: the
    largest that each model is known to fit (the same for every model of one context)."""
    lead = members[0][0]
    contexts = list({id(ctx): ctx for ctx, _ in members}.values())
    index = lead.indexes.index(test_subset, split)
    for ctx in contexts[1:]:  # each run of the pass records (and on --resume checks) it
        ctx.records.check_index(test_subset, split, index)
    part = shard_index(index, lead.job)
    heads = [Head(ctx.eval_model(trained), ctx.transforms.eval, ctx.transforms.normalizer,
                  None if trained.checkpoint is None else str(trained.checkpoint))
             for ctx, trained in members]
    options = lead.eval_options(batch_size=min(ctx.eval_batch_size for ctx, _ in members))
    many = f" ({len(heads)} models)" if len(heads) > 1 else ""
    cache = _decode_cache(members, part) if settings is None else None
    if settings is not None:
        raw = predict_settings_many(heads, part, settings, options,
                                    desc=f"eval {test_subset} ×{len(settings)}{many}")
    elif len(heads) == 1:  # a lone model goes through ``predict`` itself
        head = heads[0]
        raw = [{"none": predict(head.model, part, head.transform, options,
                                normalizer=head.normalizer, desc=f"eval {test_subset}",
                                cache=cache, source=head.source)}]
    else:
        raw = [{"none": scores} for scores in predict_many(
            heads, part, options, desc=f"eval {test_subset}{many}", cache=cache)]
    if cache is not None:  # what the pass read and wrote
        for ctx in contexts:
            ctx.records.decode_cache_records.append({"subset": part.subset, "split": part.split,
                                                     "used": True, **cache.record()})
    out = [{name: gather_scores(index, scores, ctx.job) for name, scores in by_setting.items()}
           for (ctx, _), by_setting in zip(members, raw, strict=True)]
    first = next(iter(out[0].values()))
    for ctx in contexts:
        ctx.records.add_time("eval", first.seconds)
        # eval_wait_data, eval_transfer, eval_preprocess, eval_model: the phases of
        # gibench.engine.evaluate.PHASES, summed over the evaluations
        for phase, seconds in first.timings.items():
            ctx.records.add_time(f"eval_{phase}", seconds)
    return out


def _decode_cache(members: list[tuple[RunContext, TrainedModel]], part: ImageIndex):
    """With ``--decode-cache``, the cache of ``part`` under the members' one evaluation
    transform (recorded in each member's ``run.json``); ``None`` without it, or when the
    members' transforms differ (a pass of several detectors decodes, as without a cache)."""
    from gibench.cache import default_cache_dir
    from gibench.data.decoded_cache import DecodedCache

    ctx = members[0][0]
    if not ctx.config.decode_cache:
        return None
    transform = ctx.transforms.eval
    why = ("the pass's models differ in transform"
           if any(other.transforms.eval is not transform for other, _ in members)
           else "native-size inputs (--eval-transform native)" if is_native(transform)
           else None)
    if why is not None:
        for other in {id(c): c for c, _ in members}.values():
            other.records.decode_cache_records.append({"subset": part.subset, "used": False,
                                                       "why": why})
        return None
    r = ctx.resolved
    description = (f"{ctx.spec.name} eval input {r.input_size} load {r.load_size} "
                   f"align {r.align_label} policy {r.eval_policy}")
    return DecodedCache(default_cache_dir() / "decoded", part, transform, description)


def share_eval_transforms(contexts: Sequence[RunContext]) -> None:
    """Contexts of one detector at one input and load size, under one evaluation policy, use one
    evaluation transform object, so that a pass shared by their models runs it once per image
    for all of them (the transform is built from those four alone, so nothing else changes)."""
    first: dict[tuple[str, int, int | None, str], Any] = {}
    for ctx in contexts:
        r = ctx.resolved
        key = (ctx.spec.name, r.input_size, r.load_size, r.eval_policy)
        ctx.transforms.eval = first.setdefault(key, ctx.transforms.eval)


def _record_scores(ctx: RunContext, trained: TrainedModel, test_subset: str, split: str,
                   by_setting: dict[str, Scores], clean_label: str | None) -> None:
    """Add the rows and scores of one model's evaluation: one clean row labelled
    ``clean_label`` (as :meth:`RunContext.evaluate`), or one row per setting (as
    :meth:`RunContext.evaluate_settings`, the bad files counted once)."""
    key = f"{test_subset}/{split}"
    if clean_label is not None:
        scores = by_setting["none"]
        ctx.records.add_bad(key, scores.bad)
        _record(ctx, trained, test_subset, split, clean_label, scores)
        return
    ctx.records.add_bad(key, next(iter(by_setting.values())).bad)
    for name, scores in by_setting.items():
        _record(ctx, trained, test_subset, split, name, scores)


def _record(ctx: RunContext, trained: TrainedModel, test_subset: str, split: str,
            degradation: str, scores: Scores) -> None:
    """One result row and its per-image scores, added to ``ctx``'s records."""
    if len(scores.logits) == 0:
        raise GibenchError(f"no image of {test_subset}/{split} could be decoded")
    train_name = trained.train_subset or GIVEN_WEIGHTS
    probs = sigmoid(scores.logits)
    metrics = extended_metrics(scores.labels, probs, seed=ctx.config.seed)
    calibrated = trained.threshold if trained.threshold is not None else float("nan")
    both = metrics["n_real"] > 0 and metrics["n_fake"] > 0
    oracle = threshold_for(scores.labels, probs, "acc") if both else float("nan")
    names = ctx.names
    spec = names.subset_spec(test_subset)
    dataset = spec.dataset
    row = {"detector": ctx.spec.name, "suite": ctx.suite.name, "dataset": dataset,
           "train_subset": train_name, "test_subset": spec.name,
           "degradation": degradation, "align": ctx.resolved.align_label,
           "eval_transform": ctx.resolved.eval_policy,
           "eval_precision": ctx.resolved.eval_precision,
           "n_real": metrics["n_real"],
           "n_fake": metrics["n_fake"], "n_skipped": len(scores.bad),
           **{k: metrics[k] for k in ("acc", "real_acc", "fake_acc", "auc", "ap",
                                      *EXTENDED_COLUMNS)},
           "threshold_calibrated": calibrated,
           "acc_calibrated": (accuracy_at(scores.labels, probs, calibrated)["acc"]
                              if calibrated == calibrated else float("nan")),
           "threshold_oracle": oracle,
           "acc_oracle": (accuracy_at(scores.labels, probs, oracle)["acc"]
                          if both else float("nan"))}
    root, data_root = scores.index.root, (names.root_of(dataset) if dataset in names.roots
                                          else ctx.data_root)
    # relative to the dataset's root; an extra root's image stays ``@NAME/...``; in a run of
    # several datasets prefixed by the dataset, with a ``dataset`` column (rundir)
    rel = [p if p.startswith("@") else str((root / p).relative_to(data_root))
           if root.is_relative_to(data_root) else str(root / p) for p in scores.paths]
    several = names.several
    if several:
        rel = [f"{dataset}/{p}" for p in rel]
    ctx.records.add(row, pd.DataFrame({
        "dataset": dataset,
        "train_subset": train_name, "test_subset": spec.name,
        "degradation": degradation, "path": rel,
        "label": scores.labels.astype(np.int64), "logit": scores.logits, "score": probs,
    }, columns=score_columns(several)))
