"""Training a detector with its recipe, selecting the checkpoint on a part held out from train.

The recipe (optimizer, lr, schedule, epochs, batch size) comes from the detector spec, with the
run's overrides applied by the caller. Model selection and early stopping look only at the
held-out part of ``train``, never at ``val`` (GenImage reports on ``val``). After every epoch
the full training state is written atomically to ``checkpoints/last.pt`` and, when the held-out
accuracy improves, the weights to ``model.pt``.

Resuming (``resume=True``) restores everything that decides what comes next — weights,
optimizer and grad-scaler state, step, lr, the selection state and the history — from
``last.pt``; the shuffle order, augmentations and stochastic layers of epoch ``e`` are seeded
from ``(seed, e)`` alone, so an interrupted and resumed training ends with the same weights as
an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm  # not tqdm.auto: its notebook check iterates the loader once more

from gibench.data.dataset import ImageDataset, make_loader
from gibench.data.layout import ImageIndex
from gibench.engine.device import Normalizer, amp_dtype, autocast
from gibench.engine.distributed import SINGLE, Dist, barrier, epoch_order, gather_objects
from gibench.engine.evaluate import EvalOptions, predict
from gibench.errors import GibenchError
from gibench.metrics import compute_metrics, sigmoid
from gibench.outputs import atomic_torch_save, check_state, load_checkpoint, load_state_into
from gibench.rundir import LAST_CHECKPOINT, MODEL_FILE
from gibench.specs import Recipe, Transform


@dataclass
class TrainConfig:
    """The recipe as actually used (after the run's overrides and the dataset's budget)."""

    recipe: Recipe
    epochs: int
    batch_size: int
    lr: float
    workers: int
    seed: int
    skip_bad: bool = False
    progress: bool = True
    #: the torchrun job (one process by default); ``batch_size`` is then per process
    job: Dist = SINGLE
    #: applied to every decoded training and held-out image first (--train-align)
    align: object = None
    #: the held-out evaluations' precision on CUDA (the run's --eval-precision)
    eval_precision: str = "fp32"
    #: called with each epoch's record once its state is saved, in rank 0 only (the run's
    #: reporters: gibench_epoch_finished)
    on_epoch: Callable[[dict[str, float]], None] | None = None


@dataclass
class TrainResult:
    best_epoch: int
    best_holdout: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    images_seen: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)
    stopped_early: bool = False


#: The keys of ``checkpoints/last.pt`` that resuming reads.
_TRAINING_STATE = ("model", "optimizer", "scaler", "epoch", "step", "lr", "best_key",
                   "best_epoch", "best_metrics", "since_best", "history", "images_seen", "bad",
                   "stopped_early", "seconds")


def _add_bad(bad: list[tuple[str, str]], found) -> None:
    """Add the ``(path, reason)`` pairs of ``found`` not yet in ``bad``: a bad file is met once
    per epoch, and counted once."""
    seen = {path for path, _ in bad}
    for path, reason in found:
        if path not in seen:
            seen.add(path)
            bad.append((path, reason))


def make_optimizer(recipe: Recipe, params, lr: float) -> torch.optim.Optimizer:
    name = recipe.optimizer.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=recipe.betas,
                                weight_decay=recipe.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=recipe.betas,
                                 weight_decay=recipe.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.momentum,
                               dampening=recipe.dampening, weight_decay=recipe.weight_decay)
    raise GibenchError(f"recipe optimizer {recipe.optimizer!r} is not one of adam, adamw, sgd")


def scheduled_lr(recipe: Recipe, base_lr: float, step: int, total_steps: int,
                 warmup_steps: int) -> float | None:
    """The lr at ``step`` for per-step schedules (warm-up, cosine), ``None`` to leave it.

    As timm's schedulers: a linear warm-up from ``recipe.warmup_lr`` to ``base_lr`` over
    ``warmup_steps``, and a cosine from ``base_lr`` to 0 over all ``total_steps``.
    """
    if step < warmup_steps:
        return recipe.warmup_lr + (base_lr - recipe.warmup_lr) * step / warmup_steps
    if recipe.schedule == "cosine":
        return 0.5 * base_lr * (1 + math.cos(math.pi * step / total_steps))
    if warmup_steps and step == warmup_steps:
        return base_lr
    return None


def epoch_end_lr(recipe: Recipe, lr: float, epochs_done: int) -> float:
    """The lr after ``epochs_done`` epochs (counted from 1) for per-epoch schedules: ``step``
    multiplies it by ``recipe.step_gamma`` after every ``recipe.step_epochs`` epochs (the
    ``plateau`` schedule depends on held-out accuracy and is applied by :func:`train`)."""
    if recipe.schedule != "step":
        return lr
    if recipe.step_epochs < 1:
        raise GibenchError(f"recipe schedule 'step' needs step_epochs >= 1, not "
                           f"{recipe.step_epochs}")
    return lr * recipe.step_gamma if epochs_done % recipe.step_epochs == 0 else lr


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def train(model: torch.nn.Module, train_index: ImageIndex, holdout_index: ImageIndex, *,
          train_transform: Transform, eval_transform: Transform, normalizer: Normalizer,
          device: torch.device, config: TrainConfig, out_dir: Path,
          resume: bool = False) -> TrainResult:
    """Train ``model`` in place; on return it holds the weights of the best held-out epoch.

    With ``resume``, training continues from ``out_dir/checkpoints/last.pt`` when it exists."""
    start = time.perf_counter()
    recipe = config.recipe
    job = config.job
    model.to(device).to(memory_format=torch.channels_last)
    # Under torchrun: DDP averages the gradients, so every rank holds the same weights; each
    # rank trains on its part of the epoch's order (see distributed.epoch_order).
    net = (torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
        if job.enabled else model)
    opt = make_optimizer(recipe, model.parameters(), config.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype(device) == torch.float16)
    dataset = ImageDataset(train_index, train_transform, seed=config.seed,
                           skip_bad=config.skip_bad, align=config.align)

    def epoch_loader(epoch: int):
        """This rank's batches of ``epoch``: the order depends on (seed, epoch) alone."""
        part = torch.utils.data.Subset(dataset, epoch_order(len(dataset), config.seed, epoch,
                                                            job))
        return make_loader(part, config.batch_size, shuffle=False, workers=config.workers,
                           seed=config.seed, pin_memory=device.type == "cuda",
                           drop_last=len(part) > config.batch_size)

    steps_per_epoch = max(1, len(epoch_loader(0)))
    total_steps = steps_per_epoch * config.epochs
    # The warm-up keeps its share of the recipe's epochs when the budget shortens training.
    warmup_steps = round(recipe.warmup_epochs / max(recipe.epochs, 1) * total_steps)
    lr = config.lr
    best_key, best_state, best_epoch, best_metrics = (-math.inf, 0.0), None, -1, {}
    since_best = 0
    result = TrainResult(-1, {})
    last = out_dir / LAST_CHECKPOINT
    last.parent.mkdir(parents=True, exist_ok=True)
    step, first_epoch, elapsed = 0, 0, 0.0
    if resume and last.is_file():
        state = load_checkpoint(last)
        missing = [k for k in _TRAINING_STATE if k not in state]
        if missing:
            raise GibenchError(f"cannot resume from {last}: not a training state of gibench "
                               f"(no {', '.join(missing[:4])}); move it away to train anew")
        load_state_into(model, state["model"], f"{last} (to resume)")
        try:
            opt.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise GibenchError(f"cannot resume from {last}: its optimizer state does not fit "
                               f"this detector's recipe ({type(exc).__name__}: {exc})") from exc
        first_epoch, step, lr = state["epoch"], state["step"], state["lr"]
        best_key = (state["best_key"][0], state["best_key"][1])
        best_epoch, best_metrics = state["best_epoch"], state["best_metrics"]
        since_best, elapsed = state["since_best"], state["seconds"]
        result.history = list(state["history"])
        result.images_seen = state["images_seen"]
        _add_bad(result.bad, state["bad"])
        result.stopped_early = state["stopped_early"]
        if best_epoch > 0:
            best_state = load_checkpoint(out_dir / MODEL_FILE)
            check_state(model.state_dict(), best_state, f"{out_dir / MODEL_FILE} (to resume)")
        start -= elapsed
    holdout_options = EvalOptions(device, config.batch_size * 2, config.workers,
                                  config.skip_bad, config.seed, config.progress, config.align,
                                  config.eval_precision)
    for epoch in range(first_epoch, config.epochs):
        if result.stopped_early:
            break
        model.train()
        dataset.epoch = epoch
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout / stochastic layers
        losses = []
        bar = tqdm(epoch_loader(epoch), desc=f"train epoch {epoch + 1}/{config.epochs}",
                   unit="batch", leave=False, disable=None if config.progress else True)
        for batch in bar:
            _add_bad(result.bad, [(train_index.paths[i], r) for i, r in batch.bad])
            if batch.images.shape[0] == 0:
                continue
            new_lr = scheduled_lr(recipe, config.lr, step, total_steps, warmup_steps)
            if new_lr is not None:
                _set_lr(opt, new_lr)
            x = normalizer(batch.images.to(device, non_blocking=True))
            y = batch.labels.to(device, non_blocking=True).float()
            with autocast(device):
                logits = net(x).reshape(-1)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.detach())
            result.images_seen += x.shape[0]
            step += 1
        train_loss = torch.stack(losses).mean().item() if losses else float("nan")
        scores = predict(model, holdout_index, eval_transform, holdout_options,
                         normalizer=normalizer, desc="held-out")
        _add_bad(result.bad, scores.bad)  # the held-out part is part of the training split
        metrics = compute_metrics(scores.labels, sigmoid(scores.logits))
        holdout_loss = F.binary_cross_entropy_with_logits(
            torch.from_numpy(scores.logits), torch.from_numpy(scores.labels).double()).item()
        record = {"epoch": epoch + 1, "train_loss": train_loss, "lr": opt.param_groups[0]["lr"],
                  "holdout_acc": metrics["acc"], "holdout_auc": metrics["auc"],
                  "holdout_loss": holdout_loss, "seconds": time.perf_counter() - start}
        result.history.append(record)
        if config.progress:
            tqdm.write(f"epoch {epoch + 1}: loss {train_loss:.4f}, held-out acc "
                       f"{metrics['acc']:.1f}%, auc {metrics['auc']:.1f}")
        # Selection on held-out accuracy (CNNDetection's criterion); ties go to the lower loss.
        key = (metrics["acc"], -holdout_loss)
        if key > best_key:
            best_key, best_epoch, best_metrics = key, epoch + 1, metrics
            best_state = copy.deepcopy(model.state_dict())
            if job.main:
                atomic_torch_save(best_state, out_dir / MODEL_FILE)
            since_best = 0
        else:
            since_best += 1
        if recipe.schedule == "step":
            lr = epoch_end_lr(recipe, lr, epoch + 1)
            _set_lr(opt, lr)
        if recipe.schedule == "plateau" and since_best >= recipe.patience:
            # CNNDetection's early stopping: divide the lr by 10, stop once it falls below min.
            lr /= 10.0
            if lr < recipe.min_lr:
                result.stopped_early = True
            else:
                _set_lr(opt, lr)
                since_best = 0
        # Everything the next epoch depends on (the best weights are model.pt, saved above).
        # (Under torchrun rank 0 writes; its files are the job's: the weights are the same on
        # every rank, and resuming ranks read rank 0's state.)
        if job.main:
            atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                               "scaler": scaler.state_dict(), "epoch": epoch + 1,
                               "step": step, "lr": lr, "best_key": list(best_key),
                               "best_epoch": best_epoch, "best_metrics": best_metrics,
                               "since_best": since_best, "history": result.history,
                               "images_seen": result.images_seen,
                               "bad": [list(b) for b in result.bad],
                               "stopped_early": result.stopped_early,
                               "seconds": time.perf_counter() - start},
                              last)
            if config.on_epoch is not None:
                config.on_epoch(record)
        barrier(job)
    if job.enabled:  # every rank saw its own part: count and list the whole job's
        parts = gather_objects((result.images_seen, result.bad), job)
        result.images_seen = sum(n for n, _ in parts)
        result.bad = sorted({tuple(b) for _, bad in parts for b in bad})
    if best_state is not None:
        model.load_state_dict(best_state)
    result.best_epoch, result.best_holdout = best_epoch, best_metrics
    result.seconds = time.perf_counter() - start
    if best_state is None:
        raise GibenchError("training produced no held-out evaluation (empty training set?)")
    return result
