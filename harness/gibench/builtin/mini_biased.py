"""``mini-biased``, a built-in dataset plugin: mini whose real images carry a shortcut (JPEG
and/or another size) that its fakes lack, plus a placebo subset (see :func:`ensure_mini_biased`).

GenImage's format shortcut (real JPEG, fake PNG) and size shortcut, put into the embedded mini
dataset on purpose, so that a detector's reliance on them can be measured. The plugin registers
the dataset (:data:`MINI_BIASED`: recognised by its stamp file, built on demand, with mini's
budget) and its subsets (:data:`MINI_BIASED_SUBSETS`, the placebo a control).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import click
from PIL import Image

from gibench.builtin.mini import (
    GENERATORS,
    MINI_VERSION,
    ensure_mini,
    fingerprint,
    link_or_copy,
    mini_budget,
)
from gibench.cache import default_cache_dir
from gibench.hookspecs import hookimpl
from gibench.specs import DatasetSpec, SubsetSpec

#: The dataset name of :func:`ensure_mini_biased`'s build.
BIASED_DATASET = "mini-biased"
#: Bumped whenever the biased copy would change (its mini source has its own version).
BIASED_VERSION = 2  # 2: the placebo subset
#: The JPEG quality of the real images by default (ImageNet's are mostly 96; 90 is harsher).
BIASED_QUALITY = 90
#: The stamp file of a biased build (not ``MINI.json``: a biased root is not mini).
BIASED_STAMP = "MINI_BIASED.json"

#: mini's subsets again for dataset ``mini-biased``. Subset names are one namespace across
#: datasets in the registry, so each is prefixed ``biased-`` (``biased-latent-a``); the
#: folders are mini's, so the layout and the loader are the same.
_BIASED_GENERATOR_SUBSETS: tuple[SubsetSpec, ...] = tuple(
    SubsetSpec(
        name=f"biased-{gen.name}",
        display_name=f"{gen.display_name} (biased)",
        family=gen.family,
        dataset=BIASED_DATASET,
        folders=(gen.name,),
        aliases=(f"mini-biased-{gen.name}",),
        description=f"{gen.description}; real images stored as JPEG, fakes as PNG "
                    "(GenImage's format shortcut)",
    )
    for gen in GENERATORS
)
#: The folder of mini-biased's placebo subset: its "fakes" are mini's real crops themselves,
#: untouched; its reals are the same crops with the build's shortcut. Nothing but the shortcut
#: separates the two, so any accuracy above 50% on it is reliance on the shortcut.
PLACEBO = "placebo"
PLACEBO_SUBSET = SubsetSpec(
    name=f"biased-{PLACEBO}",
    display_name="Placebo (biased)",
    family="none (shortcut only)",
    dataset=BIASED_DATASET,
    folders=(PLACEBO,),
    aliases=(f"mini-biased-{PLACEBO}",),
    description="no generator: the 'fakes' are mini's real crops as they are (PNG, 72 px), the "
                "reals the same crops with the shortcut; accuracy above 50% measures reliance "
                "on the shortcut alone",
    control=True,
)
MINI_BIASED_SUBSETS: tuple[SubsetSpec, ...] = (*_BIASED_GENERATOR_SUBSETS, PLACEBO_SUBSET)


def _check_quality(quality: int) -> int:
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    return quality


def _check_real_size(real_size: int | None) -> int | None:
    if real_size is not None and (not isinstance(real_size, int) or real_size < 8):
        raise ValueError(f"real image size must be an integer of at least 8, got {real_size!r}")
    return real_size


def _biased_fingerprint(seed: int, quality: int | None, real_size: int | None = None) -> str:
    fields: dict[str, object] = {"mini": fingerprint(seed), "biased_version": BIASED_VERSION,
                                 "quality": quality}
    if real_size is not None:  # absent for the format-only builds, whose caches stay valid
        fields["real_size"] = real_size
    payload = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _biased_label(quality: int | None, real_size: int | None) -> str:
    """``q90``, ``png-s96``, ``q75-s96``: the shortcut(s) of a build, in its folder name."""
    if quality is None and real_size is None:
        raise ValueError("mini-biased needs a shortcut: a JPEG quality for the real images, "
                         "a size for them, or both")
    label = f"q{_check_quality(quality)}" if quality is not None else "png"
    return label + (f"-s{_check_real_size(real_size)}" if real_size is not None else "")


def mini_biased_root(seed: int = 0, cache_dir: Path | None = None,
                     quality: int | None = BIASED_QUALITY, real_size: int | None = None
                     ) -> Path:
    """Where the mini-biased build for ``seed``, ``quality`` and ``real_size`` lives (built or
    not)."""
    return ((cache_dir or default_cache_dir())
            / f"mini-biased-v{MINI_VERSION}.{BIASED_VERSION}-seed{seed}-"
              f"{_biased_label(quality, real_size)}")


def _stamp_matches(stamp: Path, fingerprint: str) -> bool:
    try:
        return json.loads(stamp.read_text()).get("fingerprint") == fingerprint
    except (OSError, ValueError):
        return False


def ensure_mini_biased(seed: int = 0, cache_dir: Path | None = None,
                       quality: int | None = BIASED_QUALITY, progress: bool = True,
                       real_size: int | None = None) -> Path:
    """Return the root of mini-biased, building it (and mini, its source) first if needed.

    mini-biased is mini (:func:`ensure_mini` with the same ``seed``) with every real image, in
    every subset and both splits, given a shortcut that the fakes (mini's PNGs, untouched) do
    not have: GenImage's format shortcut (stored as a JPEG at ``quality``; real files are
    ``<source>_<i>.jpg``) and/or its size shortcut (resized with bicubic so that the shorter
    side is ``real_size``; with ``quality=None`` the reals stay PNG). A seventh subset,
    :data:`PLACEBO_SUBSET`, pairs those reals with mini's own real crops as its "fakes": the
    shortcut is all that tells its classes apart. The build is atomic (a temporary folder
    renamed into place) and cached under a fingerprint of mini's, the shortcut and
    :data:`BIASED_VERSION`.
    """
    root = mini_biased_root(seed, cache_dir, quality, real_size)
    if _stamp_matches(root / BIASED_STAMP, _biased_fingerprint(seed, quality, real_size)):
        return root
    source = ensure_mini(seed=seed, cache_dir=cache_dir, progress=progress)
    return build_mini_biased(source, root, seed=seed, quality=quality, progress=progress,
                             real_size=real_size)


def _biased_real(image: Image.Image, quality: int | None, real_size: int | None
                 ) -> tuple[Image.Image, str, dict]:
    """A real image with the build's shortcut: (image, suffix, PIL save arguments)."""
    image = image.convert("RGB")
    if real_size is not None:  # the size policy of ``--align size:S`` (mini's crops are square)
        from gibench.data.align import Alignment

        image = Alignment("size", real_size)(image)
    if quality is None:
        return image, ".png", {"format": "PNG"}
    return image, ".jpg", {"format": "JPEG", "quality": quality}


def build_mini_biased(source: Path, root: Path, seed: int = 0,
                      quality: int | None = BIASED_QUALITY, progress: bool = True,
                      real_size: int | None = None) -> Path:
    """Build mini-biased into ``root`` (replacing anything there) from the mini build at
    ``source`` (made with ``seed``): reals rewritten once per split, fakes (and the placebo's
    untouched reals) hard-linked."""
    from tqdm.auto import tqdm

    label = _biased_label(quality, real_size)
    source, root = Path(source), Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(root.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    counts: dict[str, dict[str, int]] = {}
    reals: dict[str, list[str]] = {}
    originals: dict[str, list[Path]] = {}  # mini's own real PNGs, per split
    for split in ("train", "val"):  # every subset holds the same real images
        real_dir = tmp / "_real" / split
        real_dir.mkdir(parents=True)
        pngs = sorted((source / GENERATORS[0].name / split / "nature").glob("*.png"))
        names = []
        for png in tqdm(pngs, desc=f"mini-biased: real {split} ({label})", unit="img",
                        disable=None if progress else True):
            with Image.open(png) as image:
                real, suffix, save = _biased_real(image, quality, real_size)
            real.save(real_dir / f"{png.stem}{suffix}", **save)
            names.append(f"{png.stem}{suffix}")
        reals[split], originals[split] = names, pngs
    # (folder, its fakes per split, their file-name prefix): mini's generators, then the
    # placebo, whose "fakes" are mini's own reals
    fake_sides = [(gen.name, lambda split, g=gen.name: sorted(
        (source / g / split / "ai").glob("*.png")), "") for gen in GENERATORS]
    fake_sides.append((PLACEBO, originals.__getitem__, f"{PLACEBO}_"))
    for folder, fakes_of, prefix in fake_sides:
        for split, names in reals.items():
            sub = tmp / folder / split
            (sub / "nature").mkdir(parents=True)
            for name in names:
                link_or_copy(tmp / "_real" / split / name, sub / "nature" / name)
            fakes = fakes_of(split)
            (sub / "ai").mkdir()
            for fake in fakes:
                link_or_copy(fake, sub / "ai" / f"{prefix}{fake.name}")
            counts.setdefault(folder, {})[split] = len(fakes)
    (tmp / BIASED_STAMP).write_text(json.dumps({
        "fingerprint": _biased_fingerprint(seed, quality, real_size),
        "dataset": BIASED_DATASET, "version": BIASED_VERSION,
        "mini_fingerprint": fingerprint(seed), "seed": seed, "quality": quality,
        "real_format": "PNG" if quality is None else "JPEG", "fake_format": "PNG",
        "real_size": real_size, "counts_per_label": counts,
    }, indent=2))
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root


def is_mini_biased_root(root: Path) -> bool:
    """Whether ``root`` is a mini-biased build (it holds :data:`BIASED_STAMP`)."""
    return (Path(root) / BIASED_STAMP).is_file()


@click.command("mini-biased")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quality", type=click.IntRange(1, 100), default=None,
              help="JPEG quality of the real images (default: 90).")
@click.option("--png", "png", is_flag=True,
              help="Keep the real images PNG (no format shortcut); needs --real-size.")
@click.option("--real-size", type=click.IntRange(8, None), default=None, metavar="S",
              help="Also resize the real images (bicubic) to shorter side S: a size "
                   "shortcut, as GenImage's photographs differ in size from its fakes (mini's "
                   "images are 72 px).")
def mini_biased(seed: int, quality: int | None, png: bool, real_size: int | None) -> None:
    """Build mini-biased (mini whose real images, and not its fakes, carry a shortcut: JPEG,
    and/or another size) if not cached; print where it is."""
    if png and quality is not None:
        raise click.BadParameter("give either --png or --quality", param_hint="--png")
    if png and real_size is None:
        raise click.BadParameter("PNG reals without --real-size would be mini itself: no "
                                 "shortcut", param_hint="--png")
    click.echo(ensure_mini_biased(seed=seed, quality=None if png else quality or BIASED_QUALITY,
                                  real_size=real_size))


MINI_BIASED = DatasetSpec(
    name=BIASED_DATASET,
    display_name="mini-biased",
    description="mini whose real images, and not its fakes, carry a shortcut (JPEG quality "
                f"{BIASED_QUALITY} by default), plus a placebo control; built on first use",
    default_train_subset=f"biased-{GENERATORS[0].name}",
    recognise=is_mini_biased_root,
    recognised_by=f"a mini-biased build: the stamp file {BIASED_STAMP}",
    build=ensure_mini_biased,
    budget=mini_budget,
    command=mini_biased,
)


@hookimpl
def gibench_add_datasets() -> Sequence[DatasetSpec]:
    """Register the mini-biased dataset."""
    return [MINI_BIASED]


@hookimpl
def gibench_add_subsets() -> Sequence[SubsetSpec]:
    """Register mini-biased's generator subsets and its placebo."""
    return MINI_BIASED_SUBSETS
