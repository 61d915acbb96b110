"""``gibench run``, ``gibench eval`` and ``gibench score``: options in, the Python API
(:mod:`gibench.engine.run`, :mod:`gibench.engine.score`) called, the summary printed."""

from __future__ import annotations

from pathlib import Path

import click

from gibench.cli._common import disabled, registry, subset_list
from gibench.cli._config import config_option, file_fields, merge
from gibench.errors import GibenchError


def _run_options(f):
    options = [
        click.option("--data-root", "data_root", multiple=True, metavar="[NAME=]PATH",
                     help="Folder holding a dataset (GenImage in any of its three layouts, "
                          "or another; gibench list datasets). Repeatable as NAME=PATH, NAME "
                          "a dataset or DATASET.ROOT for one of its extra roots (synthbuster."
                          "raise=/d/RAISE); several datasets' roots: one run over all "
                          "(--suite cross-dataset). Default: the embedded dataset, built on "
                          "first use."),
        click.option("--dataset", default=None,
                     help="Dataset of --data-root (default: the one that recognises the "
                          "folder); without --data-root, an embedded dataset to build; with "
                          "several datasets' roots, the one to train on."),
        click.option("--test-subsets", "--subsets", "test_subsets", default=None,
                     help="Comma-separated subsets to test on (default: all of the dataset)."),
        click.option("--device", default="auto", show_default=True,
                     type=click.Choice(["auto", "cpu", "cuda"]),
                     help="auto picks CUDA when present."),
        click.option("--batch-size", type=int, default=None,
                     help="Override the recipe's batch size."),
        click.option("--workers", type=int, default=None,
                     help="DataLoader worker processes (default: the cores, shared among "
                          "torchrun's processes on the node, minus one; at most 32)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--out", type=click.Path(path_type=Path), default=None,
                     help="Run directory (default: runs/<timestamp>-<detector>-<suite>)."),
        click.option("--skip-bad-images", is_flag=True,
                     help="Skip undecodable images and count them (run.json, results.csv, "
                          "summary) instead of stopping at the first."),
        click.option("--subset-dir", "subset_dirs", multiple=True, metavar="NAME=PATH:ai|nature",
                     help="Use a folder of your own images as an extra test subset, all real "
                          "(nature) or all generated (ai); repeatable."),
        click.option("--degradation", "degradations", multiple=True, metavar="NAME:STRENGTH",
                     help="Also evaluate under this degradation, applied at the images' native "
                          "resolution (e.g. jpeg:65, blur:3, lowres:112; repeatable; gibench "
                          "list degradations). For --suite degraded / robustness: the settings "
                          "/ the degradations to sweep instead of the paper's."),
        click.option("--align", "align", multiple=True, metavar="jpeg[:Q]|size[:S]",
                     help="Align every test image, real and fake, before evaluation: a JPEG "
                          "round trip at quality Q (default 96) or shorter side to S and the "
                          "centre SxS crop (default 256); removes format and size shortcuts. "
                          "Choose S below every test image's shorter side, so that reals and "
                          "fakes are all resampled (docs/shortcuts.md). "
                          "Repeatable; recorded in run.json and the rows' align column."),
        click.option("--train-align", "train_align", multiple=True,
                     metavar="jpeg[:Q]|size[:S]",
                     help="The same for every training image (train without the shortcut)."),
        click.option("--compile", is_flag=True, default=False,
                     help="Evaluate with torch.compile(model): the same scores within float "
                          "rounding; compiling takes tens of seconds per input shape, so it "
                          "pays on long evaluations only (BENCHMARKS.md)."),
        click.option("--eval-transform", default="authors", show_default=True,
                     type=click.Choice(["authors", "resize", "crop", "native", "multicrop"]),
                     help="How a test image becomes the detector's input: its authors' "
                          "evaluation transform; the whole image resized to the input size; "
                          "the centre crop at native resolution; the image as it is (detectors "
                          "that take any size); or five crops with their logits averaged. "
                          "Recorded in run.json and results.csv; results under different "
                          "policies never share a board."),
        click.option("--eval-precision", type=click.Choice(["fp32", "bf16", "fp16"]),
                     default="fp32", show_default=True,
                     help="The models' precision when evaluating on CUDA: fp32 gives the CPU's "
                          "decisions (TF32 convolutions, PyTorch's default); bf16/fp16 "
                          "autocast is faster in the model but flips a few decisions near 0.5 "
                          "(BENCHMARKS.md). Recorded in run.json; the CPU always runs fp32."),
        click.option("--decode-cache", is_flag=True, default=False,
                     help="Keep each test image's preprocessed input (uint8, the detector's "
                          "evaluation transform of the decoded file) under the user cache "
                          "($GIBENCH_CACHE/decoded): a later evaluation of the same files at "
                          "the same input reads them instead of decoding, with the same scores "
                          "to the bit. Disk: 3·S² bytes per image (150 KB at 224 px). Clean "
                          "evaluations only; recorded in run.json."),
        click.option("--no-progress", is_flag=True, help="No progress bars."),
        click.option("--report", "report", multiple=True, metavar="NAME",
                     help="Also report to NAME (repeatable): tensorboard (RUN_DIR/tensorboard/; "
                          "needs the tensorboard package), or a plugin's (gibench list "
                          "reporters). metrics.jsonl is always written."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


#: ``--fake-class``: for run (with --weights), eval and score
_fake_class = click.option(
    "--fake-class", type=click.IntRange(0, 1), default=None,
    help="For weights whose head has two classes: the class index meaning 'fake' (default: "
         "the detector's converter's, argued from its authors' code in `gibench list "
         "detectors`' docs; e.g. 1 where the authors labelled fake = 1, 0 for an ImageFolder "
         "over GenImage's ai/nature).")


def _start(ctx: click.Context, kw: dict) -> None:
    """Build the run's configuration from the options, run it, print the summary."""
    from gibench.engine.config import RunConfig
    from gibench.engine.run import default_run_dir, run_config

    config = RunConfig(**_config_options(ctx, kw))
    if config.out is None:
        config.out = default_run_dir(config, registry(ctx))
    run_config(config)
    _summary(config.out)


def _start_shared(ctx: click.Context, models: list, kw: dict) -> None:
    """Evaluate several (detector, weights) in one pass; print each run's summary."""
    from gibench.engine.run import eval_configs, run_shared

    options = _config_options(ctx, kw)
    for name in ("detector", "weights", "suite"):  # each model's own, from `models`
        options.pop(name, None)
    configs = eval_configs(models, **options)
    run_shared(configs)
    for config in configs:
        _summary(config.out)
        click.echo()
    click.echo(f"{len(configs)} models evaluated in one pass over the files; run directories: "
               + ", ".join(str(c.out) for c in configs))


def _config_options(ctx: click.Context, kw: dict) -> dict:
    """The command's options as :class:`~gibench.engine.config.RunConfig` fields."""
    from gibench.data.datasets import parse_data_roots
    from gibench.engine.config import parse_subset_dir

    kw["data_root"] = parse_data_roots(kw["data_root"])
    kw["test_subsets"] = subset_list(kw["test_subsets"])
    kw["degradations"] = list(kw["degradations"])
    kw["align"], kw["train_align"] = list(kw["align"]), list(kw["train_align"])
    kw["progress"] = not kw.pop("no_progress")
    kw["report"] = list(kw["report"])
    subset_dirs: dict = {}
    for name, path, label in map(parse_subset_dir, kw["subset_dirs"]):
        if name in subset_dirs:  # a dict would keep the last one silently
            raise GibenchError(f"{{subset_dirs}} name {name!r} given twice ("
                               f"{subset_dirs[name][0]} and {path}): give each folder its own "
                               "name", params=["subset_dirs"])
        subset_dirs[name] = (path, label)
    kw["subset_dirs"] = subset_dirs
    import shlex
    import sys

    command = shlex.join(["gibench", *sys.argv[1:]])
    return merge(ctx, {"disabled_plugins": disabled(ctx), "command": command, **kw})


def _summary(out_dir: Path) -> None:
    from gibench.engine.distributed import from_env
    from gibench.rundir import RunDir, RunRecord

    if not from_env().main:  # under torchrun rank 0 alone reports
        return
    table = RunDir(out_dir).table
    click.echo(table.read_text() if table.exists() else "(no results)")
    record = RunRecord.read(out_dir)
    bad = {k: v["count"] for k, v in record.bad_images.items()}
    t = record.timings
    tp = record.throughput.get("eval_images_per_second")
    phases = (("waiting for decoding", "eval_wait_data"), ("to device", "eval_transfer"),
              ("preprocessing", "eval_preprocess"), ("model", "eval_model"))
    if "eval_model" in t:
        click.echo("eval time: " + ", ".join(f"{label} {t[key]:.1f} s" for label, key in phases))
    click.echo(f"run directory: {out_dir}")
    click.echo(f"time: {t['total']:.0f} s (train {t.get('train', 0):.0f} s, eval "
               f"{t.get('eval', 0):.0f} s" + (f", {tp:.0f} images/s" if tp else "") + ")")
    if bad:
        click.echo("skipped bad images: " + ", ".join(f"{k}: {v}" for k, v in bad.items()))


@click.command()
@click.option("--detector", default=None,
              help="Detector name (gibench list detectors). Required unless --resume, or "
                   "--config names one.")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), default=None,
              help="Continue the interrupted run in this run directory with its recorded "
                   "configuration: finished trainings and evaluations are kept, an unfinished "
                   "training continues from its last epoch. A run of a shared pass (gibench "
                   "eval with several weights) continues with its unfinished sibling runs, "
                   "still in one pass.")
@click.option("--suite", default="cross-generator", show_default=True,
              help="Protocol to run (gibench list suites).")
@click.option("--train-subset", default=None,
              help="Subset to train on (default: the dataset's own, e.g. SD V1.4 on GenImage; "
                   "gibench list datasets).")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="Load these weights instead of training (a state dict, our model.pt, the "
                   "original authors' release format, or .safetensors).")
@_fake_class
@click.option("--pretrained", default=None, metavar="imagenet|PATH",
              help="Initialise the backbone before training: 'imagenet' downloads the "
                   "published weights (needs internet), a PATH loads a local state dict.")
@click.option("--epochs", type=int, default=None, help="Override the number of epochs.")
@click.option("--lr", type=float, default=None, help="Override the learning rate.")
@click.option("--input-size", type=int, default=None,
              help="Override the input size (default: the detector's, or its dataset's budget).")
@_run_options
@config_option
@click.pass_context
def run(ctx: click.Context, **kw) -> None:
    """Train (or load) a detector and run a suite; writes a run directory and prints the table.

    \b
    Example:
      gibench run --detector cnnspot --suite cross-generator
      gibench run --resume runs/20261125-120000-cnnspot-cross-generator
      gibench run --config experiment.toml --epochs 1
      gibench run --config runs/20261125-120000-cnnspot-cross-generator/run.json --seed 1
    """
    resume_dir = kw.pop("resume_dir")
    config_file = kw.pop("config_file")
    if resume_dir is not None and config_file is not None:
        raise click.UsageError("--resume continues a run with its own configuration; "
                               "--config cannot be given with it.")
    if resume_dir is not None:
        _resume(ctx, resume_dir, kw)
    elif kw["detector"] is None and not file_fields(ctx).get("detector"):
        raise click.UsageError("Missing option '--detector' (or --resume RUN_DIR)."
                               + (f" {config_file} names no detector either."
                                  if config_file else ""))
    else:
        _start(ctx, kw)


def _resume(ctx: click.Context, run_dir: Path, kw: dict) -> None:
    """``--resume``: the options given on the command line go to :func:`gibench.engine.run.resume`
    as overrides, which refuses those that would change what is computed."""
    from gibench.engine.run import resume

    source = click.get_current_context().get_parameter_source
    overrides = {("progress" if k == "no_progress" else k):
                 (not value if k == "no_progress" else value)
                 for k, value in kw.items()
                 if source(k) == click.core.ParameterSource.COMMANDLINE}
    resume(run_dir, **{"progress": not kw["no_progress"], **overrides})
    _summary(run_dir)


@click.command("eval")
@click.option("--detector", "detectors", multiple=True,
              help="Detector name (gibench list detectors). Repeatable: the i-th --weights is "
                   "evaluated with the i-th --detector; one --detector serves every --weights.")
@click.option("--weights", "weights", multiple=True, type=click.Path(path_type=Path),
              help="Weights to evaluate. Repeatable: several models are evaluated in one pass "
                   "over the files.")
@click.option("--input-size", type=int, default=None, help="Override the input size.")
@_fake_class
@_run_options
@config_option
@click.pass_context
def eval_(ctx: click.Context, **kw) -> None:
    """Evaluate given weights on the val split of every subset (or --subsets).

    Several models (--detector A --weights a.pt --detector B --weights b.pt, or one --detector
    with several --weights) are evaluated in one pass over each subset's files: every file is
    decoded once, each detector preprocesses it its own way, each model scores it. Each model
    gets its own complete run directory, what a separate `gibench eval` of it writes (its
    run.json lists the pass's run directories under shared_pass): under --out DIR as
    DIR/<detector>-<weights stem> (default runs/<timestamp>-eval/). Where the detectors'
    batch sizes differ, the pass uses the smallest.

    \b
    Examples:
      gibench eval --detector cnnspot --weights W.pt
      gibench eval --detector cnnspot --weights a.pt --weights b.pt --out runs/ab
      gibench eval --detector cnnspot --weights a.pt --detector resnet50 --weights b.pt
      gibench eval --config evaluation.yaml --weights c.pt
    """
    from gibench.engine.run import pair_models

    kw.pop("config_file")
    fields = file_fields(ctx)
    if fields.get("suite", "eval") != "eval":
        raise click.UsageError(f"{ctx.params['config_file']} runs suite {fields['suite']!r}; "
                               "gibench eval runs suite 'eval' (use gibench run --config).")
    detectors, weights = kw.pop("detectors"), kw.pop("weights")
    models = pair_models(detectors or [d for d in [fields.get("detector")] if d],
                         weights or [w for w in [fields.get("weights")] if w])
    if len(models) == 1:
        (kw["detector"], kw["weights"]), = models
        _start(ctx, {**kw, "suite": "eval"})
    else:
        _start_shared(ctx, models, kw)


@click.command()
@click.option("--detector", required=True, help="Detector name (gibench list detectors).")
@click.option("--weights", type=click.Path(path_type=Path), required=True,
              help="Weights to score with (a run's model.pt, the authors' release, ...).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_fake_class
@click.option("--input-size", type=int, default=None,
              help="Input size (default: the size the weights were trained at when they sit in "
                   "a run directory, else the detector's paper size).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="CSV to write (default: gibench-scores-<timestamp>.csv).")
@click.option("--device", default="auto", show_default=True,
              type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--batch-size", type=int, default=None)
@click.option("--workers", type=int, default=None)
@click.option("--skip-bad-images", is_flag=True, help="Skip undecodable images and list them.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.pass_context
def score(ctx: click.Context, detector: str, weights: Path, paths: tuple[Path, ...],
          fake_class: int | None, input_size: int | None, out: Path | None, device: str,
          batch_size: int | None, workers: int | None, skip_bad_images: bool,
          no_progress: bool) -> None:
    """Score your own images (files or folders): one CSV row per image, and a summary.

    \b
    Example:
      gibench score --detector cnnspot --weights runs/X/train/latent-a/model.pt photos/
    """
    from gibench.engine.score import default_score_file
    from gibench.engine.score import score as score_images

    out = out or default_score_file()
    table, summary = score_images(detector, weights, list(paths), input_size=input_size,
                                  device=device, batch_size=batch_size, workers=workers,
                                  skip_bad_images=skip_bad_images, progress=not no_progress,
                                  out=out, disabled_plugins=disabled(ctx),
                                  fake_class=fake_class)
    click.echo(f"scored {summary['images']} images with {summary['detector']} at "
               f"{summary['input_size']} px ({summary['size_from']}): "
               f"{summary['predicted_fake']} predicted generated (score > 0.5), "
               f"mean score {summary['mean_score']:.3f}")
    for bad in summary["skipped"]:
        click.echo(f"skipped {bad['path']}: {bad['reason']}")
    click.echo(f"per-image scores: {out}")


