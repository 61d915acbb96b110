"""The ``gibench`` command: a thin layer over the Python API (:mod:`gibench.engine.run`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tabulate import tabulate

from gibench.data.commands import audit as _data_audit
from gibench.errors import GibenchError
from gibench.leaderboard.cli import leaderboard

_KINDS = ("datasets", "detectors", "subsets", "degradations", "suites")


def _disabled(ctx: click.Context) -> list[str]:
    return (ctx.find_root().obj or {}).get("disabled", [])


def _registry(ctx: click.Context):
    from gibench.plugins import get_registry

    return get_registry(_disabled(ctx))


class _Group(click.Group):
    """Turns :class:`GibenchError` into a one-line message and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GibenchError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "plugin_opts", multiple=True, metavar="no:NAME",
              help="Disable the plugin NAME (as pytest's -p no:NAME); repeatable. "
                   "GIBENCH_DISABLE_PLUGINS=NAME,NAME does the same.")
@click.version_option(package_name="gibench")
@click.pass_context
def main(ctx: click.Context, plugin_opts: tuple[str, ...]) -> None:
    """Benchmark detectors of AI-generated images on GenImage and plugin protocols.

    \b
    Quick start (no data needed, runs on the embedded `mini` dataset):
      gibench run --detector cnnspot --suite cross-generator
    On GenImage:
      gibench data check /data/GenImage
      gibench run --detector cnnspot --suite cross-generator --data-root /data/GenImage
    """
    disabled = []
    for opt in plugin_opts:
        if not opt.startswith("no:") or len(opt) <= 3:
            raise click.BadParameter(f"expected no:NAME, got {opt!r}", param_hint="-p")
        disabled.append(opt[3:])
    ctx.obj = {"disabled": disabled}


def _run_options(f):
    options = [
        click.option("--data-root", type=click.Path(path_type=Path), default=None,
                     help="Folder holding a dataset (GenImage in any of its three layouts, "
                          "or another; gibench list datasets). Default: the embedded dataset, "
                          "built on first use."),
        click.option("--dataset", default=None,
                     help="Dataset of --data-root (default: the one that recognises the "
                          "folder); without --data-root, an embedded dataset to build."),
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


def _subset_list(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def _start(ctx: click.Context, kw: dict) -> None:
    """Build the run's configuration from the options, run it, print the summary."""
    from gibench.engine.config import RunConfig
    from gibench.engine.run import default_run_dir, run_config

    config = RunConfig(**_config_options(ctx, kw))
    if config.out is None:
        config.out = default_run_dir(config, _registry(ctx))
    run_config(config)
    _summary(config.out)


def _start_shared(ctx: click.Context, models: list, kw: dict) -> None:
    """Evaluate several (detector, weights) in one pass; print each run's summary."""
    from gibench.engine.run import eval_configs, run_shared

    configs = eval_configs(models, **_config_options(ctx, kw))
    run_shared(configs)
    for config in configs:
        _summary(config.out)
        click.echo()
    click.echo(f"{len(configs)} models evaluated in one pass over the files; run directories: "
               + ", ".join(str(c.out) for c in configs))


def _config_options(ctx: click.Context, kw: dict) -> dict:
    """The command's options as :class:`~gibench.engine.config.RunConfig` fields."""
    from gibench.engine.config import parse_subset_dir

    kw["test_subsets"] = _subset_list(kw["test_subsets"])
    kw["degradations"] = list(kw["degradations"])
    kw["align"], kw["train_align"] = list(kw["align"]), list(kw["train_align"])
    kw["progress"] = not kw.pop("no_progress")
    kw["subset_dirs"] = {name: (path, label) for name, path, label in
                         map(parse_subset_dir, kw["subset_dirs"])}
    import shlex
    import sys

    command = shlex.join(["gibench", *sys.argv[1:]])
    return {"disabled_plugins": _disabled(ctx), "command": command, **kw}


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


@main.command()
@click.option("--detector", default=None,
              help="Detector name (gibench list detectors). Required unless --resume.")
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
@click.pass_context
def run(ctx: click.Context, **kw) -> None:
    """Train (or load) a detector and run a suite; writes a run directory and prints the table.

    \b
    Example:
      gibench run --detector cnnspot --suite cross-generator
      gibench run --resume runs/20261125-120000-cnnspot-cross-generator
    """
    resume_dir = kw.pop("resume_dir")
    if resume_dir is not None:
        _resume(ctx, resume_dir, kw)
    elif kw["detector"] is None:
        raise click.UsageError("Missing option '--detector' (or --resume RUN_DIR).")
    else:
        _start(ctx, kw)


def _resume(ctx: click.Context, run_dir: Path, kw: dict) -> None:
    """``--resume``: every option that changes what is computed must be left out."""
    from gibench.engine.run import resume

    source = click.get_current_context().get_parameter_source
    given = sorted(f"--{k.replace('_', '-')}" for k in kw
                   if source(k) == click.core.ParameterSource.COMMANDLINE
                   and k not in ("no_progress", "workers", "compile", "decode_cache"))
    if given:
        raise click.UsageError(f"--resume continues the run with its recorded configuration; "
                               f"leave out {', '.join(given)}")
    overrides: dict = {"progress": not kw["no_progress"]}
    if kw["workers"] is not None:
        overrides["workers"] = kw["workers"]
    for flag in ("compile", "decode_cache"):  # how it runs, not what it computes
        if kw[flag]:
            overrides[flag] = True
    resume(run_dir, **overrides)
    _summary(run_dir)


@main.command("eval")
@click.option("--detector", "detectors", multiple=True, required=True,
              help="Detector name (gibench list detectors). Repeatable: the i-th --weights is "
                   "evaluated with the i-th --detector; one --detector serves every --weights.")
@click.option("--weights", "weights", multiple=True, type=click.Path(path_type=Path),
              required=True,
              help="Weights to evaluate. Repeatable: several models are evaluated in one pass "
                   "over the files.")
@click.option("--input-size", type=int, default=None, help="Override the input size.")
@_fake_class
@_run_options
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
    """
    from gibench.engine.run import pair_models

    models = pair_models(kw.pop("detectors"), kw.pop("weights"))
    if len(models) == 1:
        (kw["detector"], kw["weights"]), = models
        _start(ctx, {**kw, "suite": "eval"})
    else:
        _start_shared(ctx, models, kw)


@main.command()
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
                                  out=out, disabled_plugins=_disabled(ctx),
                                  fake_class=fake_class)
    click.echo(f"scored {summary['images']} images with {summary['detector']} at "
               f"{summary['input_size']} px ({summary['size_from']}): "
               f"{summary['predicted_fake']} predicted generated (score > 0.5), "
               f"mean score {summary['mean_score']:.3f}")
    for bad in summary["skipped"]:
        click.echo(f"skipped {bad['path']}: {bad['reason']}")
    click.echo(f"per-image scores: {out}")


def _param_count(spec) -> str:
    try:
        count = spec.parameter_count()
    except Exception as exc:  # a broken builder must not hide the others
        return f"error: {exc}"
    return f"{count / 1e6:.2f} M"


def _values(values) -> str:
    return ", ".join(f"{v:g}" for v in values) or "-"


@main.command("list")
@click.argument("kind", required=False, type=click.Choice(_KINDS))
@click.pass_context
def list_(ctx: click.Context, kind: str | None) -> None:
    """List datasets, detectors, subsets, degradations and suites (all without KIND)."""
    registry = _registry(ctx)
    for k in [kind] if kind else _KINDS:
        single = k[:-1]
        entries = registry.entries.get(single, {})
        click.echo(f"{k}:")
        if not entries:
            click.echo("  (none installed)\n")
            continue
        rows = []
        for name, entry in entries.items():
            s = entry.spec
            aliases = ", ".join(getattr(s, "aliases", ())[:4])
            if single == "detector":
                rows.append([name, s.paper, s.preprocess.input_size, _param_count(s),
                             entry.plugin])
            elif single == "subset":
                rows.append([name, s.display_name, s.dataset, s.family, aliases])
            elif single == "dataset":
                rows.append([name, s.display_name, s.default_train_subset or "-",
                             "/".join(s.splits), ", ".join(s.label_folders),
                             "yes" if s.build else "-", entry.plugin])
            elif single == "degradation":
                rows.append([name, s.parameter, _values(s.paper_settings),
                             _values((s.default,) if s.default is not None else ()),
                             _values(getattr(s, "sweep", ())), s.description, entry.plugin])
            else:
                rows.append([name, s.description, entry.plugin])
        headers = {"dataset": ["name", "display name", "trains on", "splits", "label folders",
                               "built", "plugin"],
                   "detector": ["name", "paper", "input", "parameters", "plugin"],
                   "subset": ["name", "display name", "dataset", "family", "aliases"],
                   "degradation": ["name", "parameter", "paper", "default", "sweep",
                                   "description", "plugin"]}.get(
            single, ["name", "description", "plugin"])
        click.echo(tabulate(rows, headers=headers, tablefmt="simple"))
        click.echo()
    if registry.failures:
        click.echo(f"{len(registry.failures)} plugin(s) failed to load: see `gibench plugins`",
                   err=True)


@main.command()
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """Show every plugin: distribution, version, status, and the error of a broken one."""
    registry = _registry(ctx)
    rows = []
    for info in registry.plugins:
        provides = []
        for kind, entries in registry.entries.items():
            names = [n for n, e in entries.items() if e.plugin == info.name]
            if names:
                provides.append(f"{len(names)} {kind}{'s' if len(names) > 1 else ''}")
        rows.append([info.name, info.distribution, info.version,
                     "builtin" if info.builtin else "entry point", info.status,
                     ", ".join(provides) or info.error])
    click.echo(tabulate(rows, headers=["plugin", "distribution", "version", "source", "status",
                                       "provides / error"], tablefmt="simple"))


def _build_command(spec) -> click.Command:
    """``gibench data NAME [--seed S]`` for a dataset with a builder and no command of its own."""

    @click.command(spec.name, help=f"Build {spec.display_name or spec.name} (if not cached "
                                   "yet) and print where it is.")
    @click.option("--seed", type=int, default=0, show_default=True)
    def build(seed: int) -> None:
        click.echo(spec.build(seed=seed, progress=True))

    return build


class _DataGroup(click.Group):
    """``gibench data``: its own commands, and one per dataset that plugins can build
    (:attr:`gibench.specs.DatasetSpec.command`, or :func:`_build_command`)."""

    def _dataset_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        registry = _registry(ctx)
        commands = {}
        for name in registry.datasets():
            spec = registry.dataset(name)
            if spec.command is not None:
                commands[name] = spec.command
            elif spec.build is not None:
                commands[name] = _build_command(spec)
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._dataset_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._dataset_commands(ctx).get(cmd_name)


@main.group(cls=_DataGroup)
def data() -> None:
    """Inspect datasets on disk; build the datasets that plugins build on demand."""


@data.command("check")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--dataset", default=None,
              help="Which dataset's subsets to look for (default: the one that recognises "
                   "ROOT; gibench list datasets).")
@click.option("--sample", type=int, default=16, show_default=True,
              help="Images per folder whose size is read.")
@click.option("--deep", is_flag=True,
              help="Also decode every image file of every subset found, list the bad ones in "
                   "--bad-list and exit 1 if there is any.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Decoding processes for --deep.  [default: the usable cores]")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True,
              help="Seconds a file may take to decode (--deep); a slower one is a bad file.")
@click.option("--bad-list", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("bad-files.csv"), show_default=True,
              help="CSV (path, reason, subset) of the bad files --deep finds; written even "
                   "when there are none.")
@click.option("--no-progress", is_flag=True, help="No progress bar (--deep).")
@click.pass_context
def data_check(ctx: click.Context, root: Path, dataset: str | None, sample: int, deep: bool,
               workers: int | None, timeout: float, bad_list: Path, no_progress: bool) -> None:
    """Count images per subset/split/label, list formats and sizes, name missing folders.

    With --deep, also decode every image as training would: exit status 1 if a folder is
    missing or a file is bad.

    \b
    Example:
      gibench data check --deep --bad-list bad.csv /data/GenImage
    """
    from gibench.data.check import (
        check_root,
        deep_check,
        render_deep,
        render_report,
        write_bad_list,
    )
    from gibench.data.datasets import infer_dataset

    registry = _registry(ctx)
    spec = registry.dataset(dataset or infer_dataset(registry, root))
    subsets = registry.subsets(spec.name)
    if not subsets:
        raise GibenchError(f"no subsets registered for dataset {spec.name!r}; known datasets: "
                           f"{', '.join(registry.datasets())}")
    report = check_root(root, subsets, sample=sample, dataset=spec)
    click.echo(render_report(report))
    ok = report.ok
    if deep:
        result = deep_check(report, workers=workers, timeout=timeout, progress=not no_progress)
        write_bad_list(result, bad_list)
        click.echo("\n" + render_deep(result, bad_list))
        ok = ok and result.ok
    sys.exit(0 if ok else 1)


main.add_command(leaderboard)
data.add_command(_data_audit)


if __name__ == "__main__":  # pragma: no cover
    main()
