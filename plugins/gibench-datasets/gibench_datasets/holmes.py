"""AIGI-Holmes' TestSet (Zhou et al., ICCV 2025): ten recent generators, most of them
autoregressive.

Layout (the data root is the ``TestSet`` folder, or the folder that holds it)::

    <root>/{FLUX,Infinity,Janus-Pro-1B,Janus-Pro-7B,Janus,LlamaGen,PixArt-XL,SD35-L,Show-o,VAR}/
           {0_real,1_fake}

Where the names come from, and what was verified where (wyczzy/AIGI-Holmes):

- the ten folder names and the ``TestSet`` folder: the README's "Recommended directory
  structure" (``TestSet/FLUX/0_real``, ``TestSet/FLUX/1_fake``, ``TestSet/Infinity/...``,
  ``Janus-Pro-1B/`` ... ``VAR/``), and ``testing.test_vals`` in ``Baselines_AIGI/config.yaml``
  with ``test_dataroot: .../TestSet`` and ``multiclass`` 0 for all ten (no class level);
- the label folders: the README shows ``0_real``/``1_fake`` under FLUX and Infinity; the eight
  others are listed without their contents, and the configuration reads them the same way.

The dataset's training data (``dataset/{0_real,1_fake}`` with the SFT/DPO ``*.jsonl``) is not
described here.
"""

from __future__ import annotations

from gibench.api import SubsetSpec
from gibench_datasets._common import (
    any_of,
    evaluation_set,
    holds_any,
    hooks,
    subset,
)

DATASET = "aigi-holmes"
#: The folder the README puts the test subsets in; the data root may be it or its parent.
TESTSET = "TestSet"

_AR = "autoregressive"
_GENERATORS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # folder, display name, family, aliases
    ("FLUX", "FLUX", "diffusion (latent)", ()),
    ("Infinity", "Infinity", _AR, ()),
    ("Janus-Pro-1B", "Janus-Pro-1B", _AR, ()),
    ("Janus-Pro-7B", "Janus-Pro-7B", _AR, ()),
    ("Janus", "Janus", _AR, ()),
    ("LlamaGen", "LlamaGen", _AR, ()),
    ("PixArt-XL", "PixArt-XL", "diffusion (latent)", ("pixart",)),
    ("SD35-L", "SD 3.5 Large", "diffusion (latent)", ("sd3.5",)),
    ("Show-o", "Show-o", _AR, ()),
    ("VAR", "VAR", _AR, ()),
)

SUBSETS: tuple[SubsetSpec, ...] = tuple(
    subset(DATASET, folder.lower(), display, family, (folder, f"{TESTSET}/{folder}"),
           aliases=aliases, description=f"{TESTSET}/{folder}/{{0_real,1_fake}}")
    for folder, display, family, aliases in _GENERATORS
)

_DISTINCT = ("Janus-Pro-1B", "Janus-Pro-7B", "LlamaGen", "Show-o", "Infinity", "SD35-L")

HOLMES = evaluation_set(
    DATASET,
    display_name="AIGI-Holmes TestSet",
    description="AIGI-Holmes' TestSet (Zhou et al., ICCV 2025): ten recent generators "
                "(Janus, Janus-Pro, LlamaGen, Show-o, VAR, Infinity, FLUX, PixArt, SD 3.5)",
    layout="{subset}/{label}",
    recognise=any_of(holds_any(*_DISTINCT), holds_any(*_DISTINCT, under=TESTSET)),
    recognised_by="AIGI-Holmes' TestSet folder (or its parent): one of Janus-Pro-1B/, "
                  "Janus-Pro-7B/, LlamaGen/, Show-o/, Infinity/, SD35-L/",
    aliases=("holmes", "holmes-testset"),
)


gibench_add_datasets, gibench_add_subsets = hooks(HOLMES, SUBSETS)
