"""Synthbuster (Bammey, IEEE OJSP 2023): 9 text-to-image generators, 1,000 fakes each, whose
reals are the RAISE-1k photographs, downloaded separately: the dataset takes two roots.

Layout::

    <root>/{dalle2,dalle3,firefly,glide,midjourney-v5,stable-diffusion-1-3,
            stable-diffusion-1-4,stable-diffusion-2,stable-diffusion-xl}/*.png   fakes only
    <root>/prompts.csv
    <raise root>/...                                    RAISE-1k, any depth: the reals

The fakes root is the ``synthbuster`` folder of ``synthbuster.zip`` (Zenodo record 10066460);
the reals root is given as ``--data-root synthbuster.raise=PATH`` (``data_root={"synthbuster":
..., "synthbuster.raise": ...}`` in Python). Every subset's reals are the whole RAISE-1k set:
the generators' prompts were written from RAISE-1k images, so each fake has a real
counterpart (same file stem, ``r000da54ft``), but the reals are shared, not per generator.

Where the names come from, and what was verified where:

- the nine folder names and their generators: AI-GenBench's Synthbuster builder
  (``dataset_creation/generator_builders/synthbuster/synthbuster_utils.py``,
  ``SYNTHBUSTER_GENERATORS``: ``"midjourney-v5": "Midjourney 5"``, ``"stable-diffusion-xl":
  "Stable Diffusion XL 1.0"``, ...), which walks the unpacked archive for ``*.png`` whose parent
  folder is the generator, and reads ``prompts.csv`` (column ``image name (matching
  Raise-1k)``) at the root; third-party readers of ``synthbuster.zip`` list its entries as
  ``synthbuster/<generator>/...``. The author's repository (qbammey/synthbuster) holds the
  detector, not the dataset's description; the Zenodo page was not available to this check;
- the fakes are directly in the generator folders (no ``1_fake``): the same builder;
- RAISE-1k's own layout is not prescribed: it is distributed as RAW/TIFF files and usually
  converted (to PNG) by users, so any folder of images is read, at any depth.
"""

from __future__ import annotations

from gibench.api import FAKE, REAL, SubsetSpec
from gibench_datasets._common import evaluation_set, holds_any, hooks, subset

DATASET = "synthbuster"
#: The name of the second root, holding RAISE-1k (``--data-root synthbuster.raise=PATH``).
RAISE = "raise"

_GENERATORS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    # name, display name, family, folder, aliases
    ("dalle2", "DALL-E 2", "commercial (diffusion)", "dalle2", ()),
    ("dalle3", "DALL-E 3", "commercial (diffusion)", "dalle3", ()),
    ("firefly", "Firefly", "commercial (diffusion)", "firefly", ("adobe-firefly",)),
    ("glide", "Glide", "diffusion (pixel)", "glide", ()),
    ("midjourney-v5", "Midjourney v5", "commercial (diffusion)", "midjourney-v5", ("mj5",)),
    ("sdv1.3", "SD 1.3", "diffusion (latent)", "stable-diffusion-1-3", ("sd13",)),
    ("sdv1.4", "SD 1.4", "diffusion (latent)", "stable-diffusion-1-4", ("sd14",)),
    ("sdv2", "SD 2", "diffusion (latent)", "stable-diffusion-2", ("sd2",)),
    ("sdxl", "SDXL", "diffusion (latent)", "stable-diffusion-xl", ()),
)

SUBSETS: tuple[SubsetSpec, ...] = tuple(
    subset(DATASET, name, display, family, (folder,), aliases=aliases,
           description=f"{display}: 1,000 PNG fakes in {folder}/; reals: RAISE-1k "
                       f"(second root '{RAISE}')",
           sources={FAKE: "{subset}", REAL: f"@{RAISE}"})
    for name, display, family, folder, aliases in _GENERATORS
)

SYNTHBUSTER = evaluation_set(
    DATASET,
    display_name="Synthbuster",
    description="Synthbuster (Bammey 2023): 9 text-to-image generators prompted from RAISE-1k "
                "photographs, 1,000 PNG fakes each; reals: RAISE-1k, a second root",
    layout="{subset}",
    extra_roots={RAISE: "RAISE-1k, the real photographs (any folder of images, e.g. PNGs "
                        "converted from the TIFFs), given as synthbuster.raise=PATH"},
    recognise=holds_any("midjourney-v5", "stable-diffusion-1-3", "stable-diffusion-1-4",
                        "stable-diffusion-2", "stable-diffusion-xl"),
    recognised_by="synthbuster.zip unpacked: one of midjourney-v5/, stable-diffusion-1-3/, "
                  "stable-diffusion-1-4/, stable-diffusion-2/, stable-diffusion-xl/",
)


gibench_add_datasets, gibench_add_subsets = hooks(SYNTHBUSTER, SUBSETS)
