"""A run's models: trained on a subset (once, resumable), or given weights loaded; each with the
threshold calibrated on the held-out part of its training subset.

:class:`ModelStore` is the part of a run context that owns them; :func:`load_weights_shared`
loads the given weights of several runs and calibrates them in one pass over the held-out
images they share.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gibench.data.layout import ImageIndex, stratified_holdout
from gibench.engine.distributed import per_process_batch
from gibench.engine.evaluate import Head, predict_many
from gibench.engine.train import TrainConfig, train
from gibench.errors import GibenchError, plugin_call
from gibench.metrics import sigmoid, threshold_for
from gibench.outputs import atomic_write_json, load_checkpoint, load_state_into, sha256_file
from gibench.registry import notify, provided_by
from gibench.rundir import MODEL_FILE, TRAINING_JSON, RunDir, WeightsMeta
from gibench.specs import DetectorSpec

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from gibench.engine.context import RunContext


@dataclass
class TrainedModel:
    """A model of the run, ready for evaluation."""

    model: torch.nn.Module
    #: the subset (or tag) it was trained on; ``None``: given weights, trained elsewhere
    train_subset: str | None
    checkpoint: Path | None
    sha256: str | None
    compiled: torch.nn.Module | None = None  # ``model`` compiled, with --compile (issue 6)
    #: the threshold calibrated on the held-out part of the training subset (None: unknown)
    threshold: float | None = None


def load_detector(spec: DetectorSpec, path: Path, input_size: int, device: torch.device,
                  pretrained: str | None = None, fake_class: int | None = None
                  ) -> torch.nn.Module:
    """Build ``spec`` at ``input_size`` and load the checkpoint at ``path`` strictly (through
    the detector's converter for its authors' layouts); ready for inference on ``device``.

    ``fake_class`` (``--fake-class``): for a checkpoint with a two-class head, the class index
    that means "fake", passed to the converter as ``fake_index``; ``None`` keeps the converter's
    default (each detector documents and argues its own)."""
    model = build_model(spec, pretrained, input_size)
    state = convert_checkpoint(spec, load_checkpoint(path), fake_class, source=str(path))
    check_finite(state, str(path))
    load_state_into(model, state, str(path))
    return model.to(device).to(memory_format=torch.channels_last).eval()


def build_model(spec: DetectorSpec, pretrained: str | None, input_size: int) -> torch.nn.Module:
    """``spec.build(pretrained=..., input_size=...)``; an exception of the plugin's that is not a
    :class:`GibenchError` becomes a :class:`~gibench.errors.PluginError` naming the detector,
    its plugin and the call."""
    call = f"build(pretrained={pretrained!r}, input_size={input_size})"
    with plugin_call(provided_by("detector", spec), call):
        return spec.build(pretrained=pretrained, input_size=input_size)


def check_finite(state, source: str) -> None:
    """Refuse weights holding NaN or infinity: every image would get a NaN logit, which the
    threshold calls real."""
    bad = [k for k, v in state.items()
           if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        shown = ", ".join(bad[:5]) + (f" ... ({len(bad)} in all)" if len(bad) > 5 else "")
        raise GibenchError(f"weights {source} hold non-finite values (NaN or infinity) in "
                           f"{shown}: they cannot score an image (a training that diverged?)")


def convert_checkpoint(spec: DetectorSpec, obj, fake_class: int | None, source: str = ""):
    """``spec.convert_state_dict(obj)``, with ``fake_index=fake_class`` when one is given (the
    checkpoint read from ``source``); an exception of the plugin's that is not a
    :class:`GibenchError` becomes a :class:`~gibench.errors.PluginError` naming the call."""
    who = provided_by("detector", spec)
    if fake_class is None:
        with plugin_call(who, f"convert_state_dict(<checkpoint {source}>)"):
            return spec.convert_state_dict(obj)
    if fake_class not in (0, 1):
        raise GibenchError(f"{{fake_class=}}{fake_class}: a two-class head's fake class is 0 "
                           "or 1", params=["fake_class"])
    try:
        accepts = "fake_index" in inspect.signature(spec.convert_state_dict).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no keyword to pass
        accepts = False
    if not accepts:
        raise GibenchError(f"{{fake_class}}: detector {spec.name!r}'s checkpoint converter has "
                           "no two-class option (its heads have one logit); leave it out",
                           params=["fake_class"])
    with plugin_call(who, f"convert_state_dict(<checkpoint {source}>, "
                          f"fake_index={fake_class})"):
        return spec.convert_state_dict(obj, fake_index=fake_class)


def train_config(ctx: RunContext) -> TrainConfig:
    """The recipe as the run uses it: built from the run's :class:`Resolved` facts."""
    r = ctx.resolved
    return TrainConfig(r.recipe, r.epochs, per_process_batch(r.batch_size, ctx.job), r.lr,
                       r.workers, ctx.config.seed, ctx.config.skip_bad_images, ctx.progress,
                       ctx.job, r.train_align, r.eval_precision)


class ModelStore:
    """The models of one run, by training subset or tag (the given weights under ``None``):
    trained (or read back with ``--resume``) on first use, kept until released."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._models: dict[str | None, TrainedModel] = {}

    def model_for(self, train_subset: str | None, *, index: ImageIndex | None = None,
                  tag: str | None = None) -> TrainedModel:
        """The model trained on ``train_subset`` (trained now, once), or the given weights.

        ``index`` trains on that part of the subset's ``train`` split instead of all of it
        (the data-scale study); ``tag`` then names the model (its folder under ``train/``, its
        key in ``run.json`` and its rows' ``train_subset``)."""
        ctx = self.ctx
        if ctx.config.weights is not None:
            if None not in self._models:
                self._models[None] = load_weights_shared([(ctx, Path(ctx.config.weights))])[0]
            return self._models[None]
        if train_subset is None:
            raise GibenchError(f"suite {ctx.suite.name!r} needs weights: pass {{weights=}}PATH",
                               params=["weights"])
        key = tag or train_subset
        if key not in self._models:
            self._models[key] = self._train(train_subset, key, index)
        return self._models[key]

    def _train(self, train_subset: str, key: str, index: ImageIndex | None) -> TrainedModel:
        ctx, records = self.ctx, self.ctx.records
        if index is None and ctx.resolved.train_split is None:
            raise GibenchError(f"dataset {ctx.dataset!r} is test-only (no training split): "
                               "nothing trains on it; evaluate given {weights}",
                               params=["weights"])
        full = (index if index is not None
                else ctx.indexes.index(train_subset, ctx.resolved.train_split))
        kept, held = stratified_holdout(full, ctx.config.holdout_fraction, ctx.config.seed)
        torch.manual_seed(ctx.config.seed)
        model = build_model(ctx.spec, ctx.config.pretrained, ctx.resolved.input_size)
        out_dir = RunDir(ctx.run_dir).training(key)
        done = out_dir / TRAINING_JSON
        ckpt = out_dir / MODEL_FILE
        if ctx.resume and done.is_file():  # trained before the interruption
            record = json.loads(done.read_text())
            records.add_bad(f"{train_subset}/train", record.pop("bad_files"))
            records.trainings[key] = record
            load_state_into(model, load_checkpoint(ckpt), f"{ckpt} (to resume)")
            model.to(ctx.device).to(memory_format=torch.channels_last)
            return TrainedModel(model.eval(), key, ckpt, record["sha256"],
                                threshold=record["calibration"]["threshold"])
        if ctx.job.main:  # how these weights are evaluated, beside them (eval, score)
            r = ctx.resolved
            WeightsMeta(ctx.spec.name, r.input_size, r.load_size, r.eval_policy, ctx.dataset,
                        train_subset).write(ckpt)
        t = ctx.transforms
        config = train_config(ctx)
        config.on_epoch = lambda record: notify(  # rank 0 only: train() calls it there
            ctx.registry, "gibench_epoch_finished", run_dir=ctx.run_dir, model=key,
            epoch=record["epoch"], metrics=record)
        result = train(model, kept, held, train_transform=t.train,
                       eval_transform=t.selection, normalizer=t.normalizer,
                       device=ctx.device, config=config, out_dir=out_dir,
                       resume=ctx.resume)
        records.add_time("train", result.seconds)
        records.add_bad(f"{train_subset}/train", result.bad)
        record = {
            "holdout": {"fraction": ctx.config.holdout_fraction, "seed": ctx.config.seed,
                        "stratified": True, "n_train": len(kept), "n_holdout": len(held)},
            "best_epoch": result.best_epoch, "best_holdout": result.best_holdout,
            "history": result.history, "seconds": result.seconds,
            "images_per_second": result.images_seen / max(result.seconds, 1e-9),
            "checkpoint": str(ckpt.relative_to(ctx.run_dir)), "sha256": sha256_file(ckpt),
            "stopped_early": result.stopped_early,
        }
        # the accuracy-maximising threshold on the held-out part of the training subset: a
        # calibrated threshold that never looks at a test split (reported as such)
        record["calibration"] = _calibrations([(ctx, model)], held)[0]
        records.trainings[key] = record
        if ctx.job.main:  # marks the training finished (read back by --resume)
            atomic_write_json(done, {**record, "bad_files": result.bad})
        return TrainedModel(model.eval(), key, ckpt, record["sha256"],
                            threshold=record["calibration"]["threshold"])

    def release(self, train_subset: str) -> None:
        """Forget the model trained on ``train_subset`` (its checkpoint stays on disk)."""
        self._models.pop(train_subset, None)

    def calibration_holdout(self) -> ImageIndex | None:
        """The held-out part of the training subset that given weights are calibrated on;
        ``None`` when its data is not here."""
        ctx = self.ctx
        if not ctx.resolved.train_subset or ctx.resolved.train_split is None:
            return None  # a test-only dataset: nothing to calibrate on
        try:
            full = ctx.indexes.index(ctx.resolved.train_subset, ctx.resolved.train_split)
        except GibenchError:
            return None
        if len(full) <= 1:
            return None
        return stratified_holdout(full, ctx.config.holdout_fraction, ctx.config.seed)[1]


def load_weights_shared(members: Sequence[tuple[RunContext, Path]]) -> list[TrainedModel]:
    """Each context's weights, loaded, each threshold calibrated on its context's held-out
    part of the training subset (when that data is here; the context records where the
    threshold came from in ``records.calibration``). Contexts that calibrate on the same
    held-out images (one data root, training subset, fraction, seed and ``--train-align``)
    score them in one pass."""
    models = [load_detector(ctx.spec, path, ctx.resolved.input_size, ctx.device,
                            ctx.config.pretrained, ctx.config.fake_class)
              for ctx, path in members]
    groups: dict[tuple, list[int]] = {}
    helds: dict[tuple, ImageIndex] = {}
    for k, (ctx, _) in enumerate(members):
        key = (str(ctx.data_root), ctx.resolved.train_subset, ctx.config.holdout_fraction,
               ctx.config.seed, tuple(ctx.config.train_align), ctx.config.skip_bad_images)
        if key not in helds:
            held = ctx.models.calibration_holdout()
            if held is None:
                continue
            helds[key] = held
        else:  # listed by the group's first run: recorded (checked on --resume) by this one
            first = members[groups[key][0]][0]
            r = ctx.resolved
            ctx.records.check_index(r.train_subset, r.train_split,
                                    first.indexes.index(r.train_subset, r.train_split))
        groups.setdefault(key, []).append(k)
    for key, ks in groups.items():
        calibrations = _calibrations([(members[k][0], models[k]) for k in ks], helds[key])
        for k, calibration in zip(ks, calibrations, strict=True):
            ctx = members[k][0]
            ctx.records.calibration = {**calibration, "subset": ctx.resolved.train_subset}
    out = []
    for (ctx, path), model in zip(members, models, strict=True):
        calibration = ctx.records.calibration
        threshold = calibration["threshold"] if calibration else None
        out.append(TrainedModel(model, None, path, sha256_file(path), threshold=threshold))
    return out


def _calibrations(members: Sequence[tuple[RunContext, torch.nn.Module]],
                  held: ImageIndex) -> list[dict[str, Any]]:
    """Each model's accuracy-maximising threshold on ``held`` (a held-out part of a training
    subset, the same for all), its images decoded once for all the models."""
    lead = members[0][0]
    heads = [Head(model, ctx.transforms.eval, ctx.transforms.normalizer,
                  None if ctx.config.weights is None else str(ctx.config.weights))
             for ctx, model in members]
    options = lead.eval_options(batch_size=min(ctx.eval_batch_size for ctx, _ in members),
                                train=True)
    out = []
    for scores in predict_many(heads, held, options, desc="calibration"):
        labels = scores.labels
        if not (labels == 0).any() or not (labels == 1).any():
            out.append({"threshold": None, "split": "held-out part of train", "n": len(labels)})
            continue
        out.append({"threshold": threshold_for(labels, sigmoid(scores.logits), "acc"),
                    "rule": "max accuracy", "split": "held-out part of train",
                    "n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum())})
    return out
