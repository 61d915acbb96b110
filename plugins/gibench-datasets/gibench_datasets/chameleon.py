"""Chameleon (Yan et al., "A Sanity Check for AI-generated Image Detection", ICLR 2025): AI
images hard for people to tell from photographs, collected online; one test set, all JPEG.

Layout (the data root is the ``Chameleon`` folder)::

    <root>/test/{0_real,1_fake}

Where the names come from, and what was verified where:

- shilinyan99/AIDE, the authors' repository: its README releases the dataset on request by
  e-mail ("academic research only") and does NOT describe its folders. Its loader
  (``data/datasets.py``, ``TestDataset``) reads an evaluation path holding ``0_real`` and
  ``1_fake`` (or sub-folders each holding exactly those two), so the label folders are the
  authors'; the ``test/`` level above them is NOT verified against the authors: it is what
  every user repository found reads (``Chameleon/test/0_real``, ``Chameleon/test/1_fake``;
  one counts 14,863 real and 11,170 fake images). Split sizes are not verified.
"""

from __future__ import annotations

from gibench.api import SubsetSpec
from gibench_datasets._common import TEST, evaluation_set, holds_any, hooks, subset

DATASET = "chameleon"

SUBSETS: tuple[SubsetSpec, ...] = (
    subset(DATASET, "chameleon", "Chameleon", "in the wild", (TEST,), folder_aliases=False,
           description="AI images collected online, chosen to fool people; JPEG"),
)

CHAMELEON = evaluation_set(
    DATASET,
    display_name="Chameleon",
    description="Chameleon (Yan et al., ICLR 2025): in-the-wild AI images chosen to fool "
                "people, and photographs; test/{0_real,1_fake}, JPEG",
    layout="{split}/{label}",
    recognise=holds_any("0_real", "1_fake", under=TEST),
    recognised_by="the Chameleon folder: test/0_real or test/1_fake",
)


gibench_add_datasets, gibench_add_subsets = hooks(CHAMELEON, SUBSETS)
