"""WildRF (Cavia et al., "Real-Time Deepfake Detection in the Real-World", 2024): real and fake
images collected from social networks; train on one platform, test on the others.

Layout (the data root is the ``WildRF`` folder)::

    <root>/{train,val}/{0_real,1_fake}
    <root>/test/{reddit,twitter,facebook}/{0_real,1_fake}

Subsets: ``reddit``, ``twitter`` and ``facebook`` (the test split of each platform), and
``trainval``, the training data (``train`` and ``val``, which hold no platform folder), the
default training subset.

Where the names come from, and what was verified where: the README of
barcavia/RealTime-DeepfakeDetection-in-the-RealWorld, whose directory tree is the layout above
verbatim ("The '0_real' and '1_fake' directories contain real and fake images respectively").
Which platform the ``train``/``val`` images come from is not stated there (the protocol is "to
train on one platform (e.g., Reddit) and test ... on other unseen platforms"), so ``trainval``
names no platform.
"""

from __future__ import annotations

from gibench.api import DatasetSpec, SubsetSpec
from gibench_datasets._common import LABEL_FOLDERS, TEST, holds_any, hooks, subset

DATASET = "wildrf"
TRAIN, VAL = "train", "val"
PLATFORMS = ("reddit", "twitter", "facebook")

SUBSETS: tuple[SubsetSpec, ...] = (
    *(subset(DATASET, platform, platform.capitalize(), "in the wild (social network)",
             (platform,), description=f"real and fake images posted on {platform.capitalize()}",
             splits=(TEST,))
      for platform in PLATFORMS),
    subset(DATASET, "trainval", "WildRF train/val", "in the wild (social network)", (TRAIN,),
           description="the training data: train/{0_real,1_fake} and val/{0_real,1_fake}",
           layout="{split}/{label}", splits=(TRAIN, VAL), folder_aliases=False),
)

WILDRF = DatasetSpec(
    name=DATASET,
    display_name="WildRF",
    description="WildRF (Cavia et al., 2024): real and fake images from Reddit, Twitter and "
                "Facebook; train/val, and a test split per platform",
    splits=(TRAIN, VAL, TEST),
    train_split=TRAIN,
    eval_split=TEST,
    default_train_subset="trainval",
    label_folders=LABEL_FOLDERS,
    layout="{split}/{subset}/{label}",
    recognise=holds_any(*PLATFORMS, under=TEST),
    recognised_by="the WildRF folder: test/reddit, test/twitter or test/facebook",
)


gibench_add_datasets, gibench_add_subsets = hooks(WILDRF, SUBSETS)
