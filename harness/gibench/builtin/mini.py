"""The embedded ``mini`` dataset, a built-in dataset plugin: real photographs and simulated
generators, built on demand.

Real side: 72×72 crops of the photographs that scikit-image ships inside its wheel, split into
``train`` and ``val`` by source photograph (never by crop), at several scales. Fake side: the
same crops passed through six simulated generators, each leaving a distinct, documented trace
(see :data:`GENERATORS`). Everything is deterministic under a seed and written once to the user
cache in GenImage's folder layout (``<root>/<subset>/{train,val}/{ai,nature}``), so the very loader
that reads GenImage reads it. Its results are always labelled ``mini`` and never mixed with
GenImage numbers.

All images are lossless PNG of the same size on both sides, so neither file format nor image
size separates real from fake (unlike GenImage, see Grommelt et al. 2024): only the generator's
trace does.

The plugin registers the dataset (:data:`MINI`: recognised by its stamp file ``MINI.json``,
built by :func:`ensure_mini`, the dataset of a run given no data root, with a reduced budget,
:func:`mini_budget`) and its subsets (:data:`MINI_SUBSETS`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gibench.cache import default_cache_dir
from gibench.hookspecs import hookimpl
from gibench.specs import Budget, DatasetSpec, DetectorSpec, SubsetSpec

#: Bumped whenever the images would change, so a stale cache is rebuilt, never reused.
MINI_VERSION = 2
CROP = 72
#: Standard deviation of the latent decoder's periodic trace, on the 0..1 scale (≈ 10/255).
DECODER_TRACE = 0.04
#: The subset a detector trains on by default on mini (the role SD V1.4 plays on GenImage).
MINI_TRAIN_DEFAULT = "latent-a"
DATASET = "mini"
#: The stamp file of a build: its fingerprint, counts and sources; how a root is recognised.
STAMP = "MINI.json"

# (name, loader attribute in skimage.data, group). Photographs of the same scene share a group
# so that the split by photograph never puts one view in train and the other in val.
_PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("astronaut", "astronaut", "astronaut"),
    ("coffee", "coffee", "coffee"),
    ("hubble", "hubble_deep_field", "hubble"),
    ("ihc", "immunohistochemistry", "ihc"),
    ("motorcycle_left", "stereo_motorcycle", "motorcycle"),
    ("retina", "retina", "retina"),
    ("brick", "brick", "brick"),
    ("grass", "grass", "grass"),
    ("moon", "moon", "moon"),
    ("coins", "coins", "coins"),
    ("page", "page", "page"),
    ("cell", "cell", "cell"),
    ("text", "text", "text"),
    ("chelsea", "chelsea", "chelsea"),
    ("rocket", "rocket", "rocket"),
    ("camera", "camera", "camera"),
    ("gravel", "gravel", "gravel"),
    ("clock", "clock", "clock"),
)
#: Source photographs whose crops form the ``val`` split; all others are ``train``.
VAL_GROUPS = frozenset({"chelsea", "rocket", "camera", "gravel", "clock"})
_SCALES = (1.0, 0.5, 0.25)
_MAX_CROPS_PER_PHOTO_SCALE = 90


def _load_photo(attr: str) -> np.ndarray:
    from skimage import data as skdata

    img = getattr(skdata, attr)()
    if isinstance(img, tuple):  # stereo_motorcycle -> (left, right, disparity)
        img = img[0]
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return img.astype(np.uint8)


def _crops(photo: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    base = Image.fromarray(photo)
    for scale in _SCALES:
        w, h = round(base.width * scale), round(base.height * scale)
        if min(w, h) < CROP:
            continue
        im = np.asarray(base.resize((w, h), Image.Resampling.LANCZOS)) if scale != 1 else photo
        ys = np.arange(0, h - CROP + 1, CROP // 2)
        xs = np.arange(0, w - CROP + 1, CROP // 2)
        grid = [(y, x) for y in ys for x in xs]
        rng.shuffle(grid)
        for y, x in grid[:_MAX_CROPS_PER_PHOTO_SCALE]:
            out.append(np.ascontiguousarray(im[y : y + CROP, x : x + CROP]))
    return out


# ---------------------------------------------------------------------------------------------
# Simulated generators. Each maps a float batch (N, 3, H, W) in [0, 1] to its "generated"
# counterpart; ``g`` is a torch.Generator seeded per generator so the traces are fixed.
# ---------------------------------------------------------------------------------------------


def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = _gauss_kernel(sigma)
    c = x.shape[1]
    r = (k.numel() - 1) // 2
    kx = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), ky, groups=c)


def _decoder_tile(g: torch.Generator, period: int, harmonics: int = 2) -> torch.Tensor:
    """A fixed, smooth colour pattern of the given period: random low harmonics only.

    Only spatial frequencies k/period with k <= ``harmonics`` are kept, like the grid that a
    learned 8× decoder leaves; low frequencies survive mild blur and JPEG (as they do in SD
    images), so the trace stays learnable under CNNSpot's blur/JPEG augmentation.
    """
    spectrum = torch.complex(torch.randn(3, period, period, generator=g),
                             torch.randn(3, period, period, generator=g))
    k = torch.fft.fftfreq(period) * period
    keep = (k.abs()[:, None] <= harmonics) & (k.abs()[None, :] <= harmonics)
    keep[0, 0] = False  # no DC: the pattern does not shift the mean colour
    tile = torch.fft.ifft2(spectrum * keep).real
    return tile / tile.std()


def _latent(x: torch.Tensor, g: torch.Generator, *, keep_detail: float, latent_noise: float,
            tile_seed: int) -> torch.Tensor:
    """Latent-autoencoder-like: encode ×4 down, perturb the latent, decode with a periodic trace.

    The decoder upsamples the 4×-downsampled latent bilinearly, restores part of the detail and
    stamps a fixed, smooth 8×8-periodic colour pattern: the periodic trace of a learned decoder,
    shared by every generator built on the same autoencoder (as SD v1.4 and v1.5 share theirs).
    """
    n, _, h, w = x.shape
    z = F.avg_pool2d(x, 4)
    z = z + latent_noise * torch.randn(z.shape, generator=g)
    up = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
    detail = x - _blur(x, 1.0)
    tile = _decoder_tile(torch.Generator().manual_seed(tile_seed), 8)
    pattern = tile.repeat(1, h // 8, w // 8).unsqueeze(0)
    return up + keep_detail * detail + DECODER_TRACE * pattern


def _latent_a(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return _latent(x, g, keep_detail=0.8, latent_noise=0.01, tile_seed=1404)


def _latent_b(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return _latent(x, g, keep_detail=0.7, latent_noise=0.012, tile_seed=1404)


def _upconv(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Transposed-convolution upsampling (GAN-like): a stride-2, 3×3 kernel overlaps unevenly.

    Downsample ×2, then upsample with a fixed ``conv_transpose2d`` (kernel 3, stride 2): output
    pixels receive one, two or four kernel taps depending on their parity, which leaves the
    period-2 checkerboard of Odena et al. (2016), plus part of the lost detail restored.
    """
    c = x.shape[1]
    low = F.avg_pool2d(x, 2)
    base = torch.tensor([0.5, 1.0, 0.5])
    k = torch.outer(base, base) + 0.12 * torch.randn(3, 3, generator=g)
    weight = k.expand(c, 1, 3, 3).clone()
    up = F.conv_transpose2d(low, weight, stride=2, padding=1, output_padding=1, groups=c)
    ones = torch.ones_like(low[:, :1])
    norm = F.conv_transpose2d(ones, torch.outer(base, base)[None, None], stride=2, padding=1,
                              output_padding=1)
    return up / norm + 0.6 * (x - _blur(x, 1.0))


def _nearest(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Nearest-neighbour upsampling: ×2 average-pool then 2×2 pixel replication (blocky edges)."""
    _, _, h, w = x.shape
    return F.interpolate(F.avg_pool2d(x, 2), size=(h, w), mode="nearest")


def _vq(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Vector quantisation: each 4×4 patch's mean colour snaps to a fixed 512-entry codebook.

    The within-patch detail is kept; the patch means jump between codebook colours, leaving
    colour steps on a 4-pixel grid (the trace of a VQ tokenizer, as in VQDM).
    """
    _, _, h, w = x.shape
    codebook = torch.rand(512, 3, generator=g)
    means = F.avg_pool2d(x, 4)  # (N, 3, h/4, w/4)
    flat = means.permute(0, 2, 3, 1).reshape(-1, 3)
    idx = torch.cdist(flat, codebook).argmin(dim=1)
    q = codebook[idx].reshape(means.shape[0], means.shape[2], means.shape[3], 3)
    q = q.permute(0, 3, 1, 2)
    shift = F.interpolate(q - means, size=(h, w), mode="nearest")
    return x + 0.5 * shift


def _denoise(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Noise then denoise (pixel-space diffusion-like): Gaussian noise, a smoothing denoiser.

    σ=0.08 noise is added and then removed by a σ=1 Gaussian filter, which over-smooths texture
    and leaves faint low-frequency residual noise.
    """
    noisy = x + 0.08 * torch.randn(x.shape, generator=g)
    return _blur(noisy, 1.0)


@dataclass(frozen=True)
class MiniGenerator:
    name: str
    display_name: str
    family: str
    seed: int
    fn: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    description: str


GENERATORS: tuple[MiniGenerator, ...] = (
    MiniGenerator("latent-a", "Latent A", "latent autoencoder", 11, _latent_a,
                  "×4 latent, bilinear decoder with a fixed smooth 8×8-periodic trace "
                  "(SD V1.4's role)"),
    MiniGenerator("latent-b", "Latent B", "latent autoencoder", 12, _latent_b,
                  "same autoencoder as Latent A, slightly different latent (SD V1.5's role)"),
    MiniGenerator("upconv", "UpConv", "transposed convolution", 13, _upconv,
                  "stride-2 transposed convolution: period-2 checkerboard (BigGAN's role)"),
    MiniGenerator("nearest", "Nearest", "nearest upsampling", 14, _nearest,
                  "×2 down, nearest-neighbour up: 2×2 pixel blocks"),
    MiniGenerator("vq", "VQ", "vector quantisation", 15, _vq,
                  "4×4 patch colours snapped to a 512-colour codebook (VQDM's role)"),
    MiniGenerator("denoise", "Denoise", "pixel diffusion", 16, _denoise,
                  "Gaussian noise then a smoothing denoiser (ADM/GLIDE's role)"),
)

MINI_SUBSETS: tuple[SubsetSpec, ...] = tuple(
    SubsetSpec(
        name=gen.name,
        display_name=gen.display_name,
        family=gen.family,
        dataset=DATASET,
        folders=(gen.name,),
        aliases=(f"mini-{gen.name}",),
        description=gen.description,
    )
    for gen in GENERATORS
)


# ---------------------------------------------------------------------------------------------
# Building and caching.
# ---------------------------------------------------------------------------------------------


def fingerprint(seed: int) -> str:
    """The fingerprint of the build for ``seed``: a stale cache has another one."""
    payload = json.dumps({"version": MINI_VERSION, "seed": seed, "crop": CROP,
                          "generators": [(g.name, g.seed) for g in GENERATORS]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def mini_root(seed: int = 0, cache_dir: Path | None = None) -> Path:
    """Where the mini dataset for ``seed`` lives (built or not)."""
    return (cache_dir or default_cache_dir()) / f"mini-v{MINI_VERSION}-seed{seed}"


def real_crops(seed: int = 0) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The real crops per split as ``(source photograph, crop)``, deterministic under ``seed``."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "val": []}
    for name, attr, group in _PHOTOS:
        crops = _crops(_load_photo(attr), rng)
        out["val" if group in VAL_GROUPS else "train"].extend((name, c) for c in crops)
    for split in out:
        order = rng.permutation(len(out[split]))
        out[split] = [out[split][i] for i in order]
    return out


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _save_png(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr).save(path, format="PNG", compress_level=1)


def ensure_mini(seed: int = 0, cache_dir: Path | None = None, progress: bool = True) -> Path:
    """Return the root of the mini dataset, building it first if the cache does not hold it.

    The build writes into a temporary folder beside the final one and renames it when complete,
    so an interrupted build never leaves a half-written dataset behind.
    """
    root = mini_root(seed, cache_dir)
    stamp = root / STAMP
    if stamp.is_file():
        try:
            if json.loads(stamp.read_text()).get("fingerprint") == fingerprint(seed):
                return root
        except (OSError, ValueError):
            pass
    build_mini(root, seed=seed, progress=progress)
    return root


def build_mini(root: Path, seed: int = 0, progress: bool = True) -> Path:
    """Build the mini dataset into ``root`` (replacing anything there)."""
    from tqdm.auto import tqdm

    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(root.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    crops = real_crops(seed)
    total = sum(len(v) for v in crops.values()) * (1 + len(GENERATORS))
    bar = tqdm(total=total, desc="building mini dataset", unit="img",
               disable=None if progress else True)
    counts: dict[str, dict[str, int]] = {}
    for split, items in crops.items():
        real_dir = tmp / "_real" / split
        real_dir.mkdir(parents=True)
        # File names carry the source photograph, as GenImage's carry the ImageNet class.
        names = [f"{source}_{i:05d}.png" for i, (source, _) in enumerate(items)]
        for (_, arr), name in zip(items, names, strict=True):
            _save_png(arr, real_dir / name)
        bar.update(len(items))
        batch = torch.from_numpy(np.stack([a for _, a in items])).permute(0, 3, 1, 2).float()
        batch = batch / 255
        for gen in GENERATORS:
            offset = 0 if split == "train" else 500
            g = torch.Generator().manual_seed(seed * 1000 + gen.seed + offset)
            fake = _to_uint8(gen.fn(batch, g))
            sub = tmp / gen.name / split
            (sub / "ai").mkdir(parents=True)
            (sub / "nature").mkdir(parents=True)
            for arr, name in zip(fake, names, strict=True):
                _save_png(arr, sub / "ai" / f"{gen.name}_{name}")
                link_or_copy(real_dir / name, sub / "nature" / name)
            counts.setdefault(gen.name, {})[split] = len(items)
            bar.update(len(items))
    bar.close()
    (tmp / STAMP).write_text(json.dumps({
        "fingerprint": fingerprint(seed), "version": MINI_VERSION, "seed": seed,
        "crop": CROP, "val_groups": sorted(VAL_GROUPS), "counts_per_label": counts,
        "sources": {split: sorted({s for s, _ in items}) for split, items in crops.items()},
        "generators": {g.name: g.description for g in GENERATORS},
    }, indent=2))
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (a copy where the file system cannot link)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ---------------------------------------------------------------------------------------------
# The dataset plugin.
# ---------------------------------------------------------------------------------------------

#: mini's budget, per detector the same: input, load size, most epochs, lr scale from scratch.
MINI_INPUT, MINI_LOAD, MINI_EPOCHS, MINI_SCRATCH_LR_SCALE = 64, 72, 3, 3.0


def mini_budget(spec: DetectorSpec, pretrained: bool) -> Budget:
    """mini's budget: 72-px images, a laptop CPU, a few minutes.

    Every detector runs at 64 px (resize to 72, crop 64, the ratio of 256 to 224), the epochs
    are capped at 3, and — since no pretrained weights can be assumed offline — a recipe whose
    lr was meant for fine-tuning ImageNet weights (``Recipe.from_pretrained``) gets it × 3 when
    the run starts from scratch (fine-tuning rates are too small to train a network from random
    initialisation in three epochs; measured with CNNSpot on this mini build: lr × 10 gave
    76.2% on mini's own subset, × 3 gave 94.5%). Recipes that train from scratch keep theirs.
    """
    scale = MINI_SCRATCH_LR_SCALE if spec.recipe.from_pretrained and not pretrained else 1.0
    return Budget(MINI_INPUT, MINI_LOAD, min(spec.recipe.epochs, MINI_EPOCHS), scale,
                  f"mini budget: {MINI_INPUT}-px input (resize {MINI_LOAD}), at most "
                  f"{MINI_EPOCHS} epochs" + (f", from scratch: the fine-tuning lr × {scale:g}"
                                             if scale != 1.0 else ""))


def is_mini_root(root: Path) -> bool:
    """Whether ``root`` is a mini build (it holds :data:`STAMP`)."""
    return (Path(root) / STAMP).is_file()


MINI = DatasetSpec(
    name=DATASET,
    display_name="mini",
    description="embedded: crops of scikit-image's photographs and six simulated generators, "
                "built on first use into the user cache",
    default_train_subset=MINI_TRAIN_DEFAULT,
    recognise=is_mini_root,
    recognised_by=f"a mini build: the stamp file {STAMP}",
    build=ensure_mini,
    no_root_default=True,
    budget=mini_budget,
)


@hookimpl
def gibench_add_datasets() -> Sequence[DatasetSpec]:
    """Register the mini dataset."""
    return [MINI]


@hookimpl
def gibench_add_subsets() -> Sequence[SubsetSpec]:
    """Register mini's six generator subsets."""
    return MINI_SUBSETS
