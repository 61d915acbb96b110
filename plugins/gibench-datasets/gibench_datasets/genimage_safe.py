"""GenImage's eight generators re-arranged as AIDE and SAFE evaluate them: one ``test/`` folder,
a folder per generator, ``0_real``/``1_fake`` inside.

Layout (the data root is the folder that holds ``test/``, SAFE's ``test4_GenImage``)::

    <root>/test/{ADM,BigGAN,Glide,Midjourney,stable_diffusion_v_1_4,stable_diffusion_v_1_5,
                 VQDM,wukong}/{0_real,1_fake}

GenImage as its authors distribute it (``<generator>/<archive folder>/{train,val}/{ai,nature}``)
is the built-in dataset ``genimage``; this one is the same images in the layout the AIDE/SAFE
line of work ships and reads. Its subsets carry GenImage's names (``sdv1.4``, ``adm``...), so
tables over both line up.

Where the names come from, and what was verified where:

- the ``test/`` level and the eight folder names, with their case: Ouxiang-Li/SAFE, README,
  "Directory structure" (``test4_GenImage/test`` holding ``ADM``, ``BigGAN``, ``Glide``,
  ``Midjourney``, ``stable_diffusion_v_1_4``, ``stable_diffusion_v_1_5``, ``VQDM``, ``wukong``),
  evaluated by ``scripts/eval.sh`` with ``--eval_data_path data/datasets/test4_GenImage/test``;
- the label folders: SAFE's ``data/datasets.py`` collects the folders named ``0_real`` and
  ``1_fake`` under that path; shilinyan99/AIDE's ``data/datasets.py`` (``TestDataset``) asserts
  that each generator folder holds exactly ``['0_real', '1_fake']``. AIDE's README points to
  GenImage for the data without a tree of its own;
- ``glide``: GenImage's own top folder is lower-case ``glide``; SAFE writes ``Glide``. Both are
  looked for, ``Glide`` first.

A test set only (AIDE and SAFE train on ForenSynths' ProGAN set or on GenImage's SD V1.4 train
split, which the built-in ``genimage`` reads).
"""

from __future__ import annotations

from gibench.api import SubsetSpec
from gibench_datasets._common import LABEL_FOLDERS, TEST, evaluation_set, holds_any, hooks, subset

DATASET = "genimage-safe"

_GENERATORS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # name (GenImage's), display name, family, folders (first found is used)
    ("midjourney", "Midjourney", "commercial (diffusion)", ("Midjourney",)),
    ("sdv1.4", "SD V1.4", "diffusion (latent)", ("stable_diffusion_v_1_4",)),
    ("sdv1.5", "SD V1.5", "diffusion (latent)", ("stable_diffusion_v_1_5",)),
    ("adm", "ADM", "diffusion (pixel)", ("ADM",)),
    ("glide", "GLIDE", "diffusion (pixel)", ("Glide", "glide")),
    ("wukong", "Wukong", "diffusion (latent)", ("wukong",)),
    ("vqdm", "VQDM", "diffusion (VQ)", ("VQDM",)),
    ("biggan", "BigGAN", "GAN", ("BigGAN",)),
)

SUBSETS: tuple[SubsetSpec, ...] = tuple(
    subset(DATASET, name, display, family, folders,
           description=f"GenImage's {display} images, test/{folders[0]}/{{0_real,1_fake}}")
    for name, display, family, folders in _GENERATORS
)

#: Folders no other test/-rooted dataset of this plugin has (AIGIBench has GLIDE, Midjourney).
_DISTINCT = ("stable_diffusion_v_1_4", "stable_diffusion_v_1_5", "wukong", "VQDM", "ADM", "BigGAN")

GENIMAGE_SAFE = evaluation_set(
    DATASET,
    display_name="GenImage (AIDE/SAFE layout)",
    description="GenImage's eight generators as AIDE and SAFE evaluate them: "
                "test/<generator>/{0_real,1_fake}",
    layout="{split}/{subset}/{label}",
    recognise=holds_any(*(f"{folder}/{label}" for folder in _DISTINCT for label in LABEL_FOLDERS),
                        under=TEST),
    recognised_by="test/ holding one of stable_diffusion_v_1_4/, stable_diffusion_v_1_5/, "
                  "wukong/, VQDM/, ADM/, BigGAN/ with 0_real/ or 1_fake/ in it (SAFE's "
                  "test4_GenImage)",
    aliases=("genimage-aide", "test4_genimage"),
)


gibench_add_datasets, gibench_add_subsets = hooks(GENIMAGE_SAFE, SUBSETS)
