"""UniversalFakeDetect's diffusion test set (Ojha et al., CVPR 2023): 8 diffusion settings.

Layout (the data root is ``diffusion_datasets``, the folder the released archive unpacks)::

    <root>/{guided,ldm_200,ldm_200_cfg,ldm_100,glide_100_27,glide_50_27,glide_100_10,dalle}/1_fake
    <root>/imagenet/0_real     the reals of guided
    <root>/laion/0_real        the reals of the seven others

A subset's reals live in a folder shared with other subsets: each subset names its real folder
in :attr:`~gibench.api.SubsetSpec.sources`.

Where the names come from, and what was verified where (WisconsinAIVision/UniversalFakeDetect):

- the eight keys and the fake folders, and which real folder pairs with which: the
  ``DATASET_PATHS`` of ``dataset_paths.py`` at commit 51ce2c3 (``real_path``
  ``./diffusion_datasets/imagenet`` with ``fake_path`` ``./diffusion_datasets/guided``;
  ``./diffusion_datasets/laion`` with ``ldm_200``, ``ldm_200_cfg``, ``ldm_100``,
  ``glide_100_27``, ``glide_50_27``, ``glide_100_10`` and ``dalle``), all in ``data_mode``
  ``wang2020``;
- the label folders: ``validate.py`` reads a ``wang2020`` path for files whose path contains
  ``0_real`` (reals) or ``1_fake`` (fakes), recursively. That the two sit directly under each
  folder (``laion/0_real``, ``guided/1_fake``) is what downstream repositories' paths show
  (e.g. ``diffusion_datasets/laion/0_real``); the authors do not list the archive's tree;
- the root: the README, "Download and unzip the file into ``./diffusion_datasets``"; 1k real
  and 1k fake images per domain are released (the paper used 10k).

``dalle`` is DALL-E mini (the older ``dataset_paths.py`` reads ``FAKE_IMAGES/DALLE-MINI``).
A test set only.
"""

from __future__ import annotations

from gibench.api import REAL, SubsetSpec
from gibench_datasets._common import (
    all_of,
    evaluation_set,
    holds_any,
    hooks,
    subset,
)

DATASET = "ufd"

#: The real folders, shared: ImageNet's for guided, LAION's for the others.
IMAGENET_REALS = "imagenet/0_real"
LAION_REALS = "laion/0_real"

_SETTINGS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    # name (= fake folder), display name, family, real folder, aliases
    ("guided", "Guided (ADM)", "diffusion (pixel)", IMAGENET_REALS, ("adm",)),
    ("ldm_200", "LDM 200 steps", "diffusion (latent)", LAION_REALS, ()),
    ("ldm_200_cfg", "LDM 200 steps, CFG", "diffusion (latent)", LAION_REALS, ()),
    ("ldm_100", "LDM 100 steps", "diffusion (latent)", LAION_REALS, ()),
    ("glide_100_27", "Glide 100-27", "diffusion (pixel)", LAION_REALS, ()),
    ("glide_50_27", "Glide 50-27", "diffusion (pixel)", LAION_REALS, ()),
    ("glide_100_10", "Glide 100-10", "diffusion (pixel)", LAION_REALS, ()),
    ("dalle", "DALL-E mini", "autoregressive (VQ)", LAION_REALS, ("dalle-mini",)),
)

SUBSETS: tuple[SubsetSpec, ...] = tuple(
    subset(DATASET, name, display, family, (name,), aliases=aliases,
           description=f"fakes in {name}/1_fake, reals in {reals} (shared)",
           sources={REAL: reals})
    for name, display, family, reals, aliases in _SETTINGS
)

UFD = evaluation_set(
    DATASET,
    display_name="UniversalFakeDetect (diffusion)",
    description="UniversalFakeDetect's diffusion test set (Ojha et al., CVPR 2023): guided, "
                "LDM, Glide and DALL-E mini fakes; reals shared from imagenet/ and laion/",
    layout="{subset}/{label}",
    recognise=all_of(holds_any(IMAGENET_REALS, LAION_REALS),
                     holds_any(*(name for name, *_ in _SETTINGS))),
    recognised_by="diffusion_datasets unpacked: laion/0_real or imagenet/0_real, and one of "
                  "guided/, ldm_200/, ... dalle/",
    aliases=("universalfakedetect", "diffusion_datasets", "ojha"),
)


gibench_add_datasets, gibench_add_subsets = hooks(UFD, SUBSETS)
