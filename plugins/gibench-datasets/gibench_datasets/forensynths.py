"""CNNDetection's test set, "ForenSynths" (Wang et al., CVPR 2020): 13 CNN generators.

Layout (the data root is the folder the archive ``CNN_synth_testset.zip`` unpacks)::

    <root>/{progan,stylegan,stylegan2,biggan,cyclegan,stargan,gaugan,crn,imle,seeingdark,
            san,deepfake,whichfaceisreal}/{0_real,1_fake}
    <root>/{progan,stylegan,stylegan2,cyclegan}/<class>/{0_real,1_fake}

Where the names come from, and what was verified where (PeterWang512/CNNDetection):

- the 13 folder names: ``vals`` in ``eval_config.py``, the list ``eval.py`` walks;
- which of them hold one more level of class folders: ``multiclass = [1, 1, 0, 1, ...]`` in the
  same file (progan, stylegan, cyclegan, stylegan2), whose ``eval.py`` reads
  ``os.listdir(<root>/<subset>)`` as the classes; the README: "ProGAN, StyleGAN, StyleGAN2,
  CycleGAN testset contains multiple classes, which are stored in separate subdirectories";
  the authors' log ``demo_dirs_log.txt`` loads 20, 3, 6 and 4 class folders for them. The
  class folders' own names are not listed by the authors, and this plugin does not need them:
  the layout ``{subset}/**/{label}`` merges every ``0_real``/``1_fake`` found at any depth;
- the label folders: README, "real images are in the ``0_real`` folder, and synthetic images
  are in the ``1_fake`` folder";
- the archive: ``dataset/test/download_testset.sh`` (``CNN_synth_testset.zip`` from
  huggingface.co/datasets/sywang/CNNDetection). Whether the zip holds a top folder is not stated:
  point the data root at the folder that holds ``progan/``.

A test set only: nothing trains on it here (ForenSynths' ProGAN training set is another
download, laid out ``train/<class>/{0_real,1_fake}``, and not described by this module).
"""

from __future__ import annotations

from gibench.api import SubsetSpec
from gibench_datasets._common import (
    all_of,
    evaluation_set,
    holds_any,
    hooks,
    subset,
)

DATASET = "forensynths"

_GENERATORS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    # name (= folder), display name, family, aliases, description
    ("progan", "ProGAN", "GAN", ("pggan",), "ProGAN; 20 class folders"),
    ("stylegan", "StyleGAN", "GAN", (), "StyleGAN; 3 class folders"),
    ("stylegan2", "StyleGAN2", "GAN", (), "StyleGAN2; 4 class folders"),
    ("biggan", "BigGAN", "GAN", (), "BigGAN"),
    ("cyclegan", "CycleGAN", "GAN (image-to-image)", (), "CycleGAN; 6 class folders"),
    ("stargan", "StarGAN", "GAN (image-to-image)", (), "StarGAN"),
    ("gaugan", "GauGAN", "GAN (image-to-image)", (), "GauGAN"),
    ("crn", "CRN", "perceptual loss", (), "cascaded refinement networks"),
    ("imle", "IMLE", "perceptual loss", (), "implicit maximum likelihood estimation"),
    ("seeingdark", "SITD", "low-level vision", ("sitd",), "seeing in the dark"),
    ("san", "SAN", "low-level vision", (), "second-order attention super-resolution"),
    ("deepfake", "Deepfake", "deepfake (face)", (), "face swaps"),
    ("whichfaceisreal", "WhichFaceIsReal", "GAN", ("wfir",), "images of whichfaceisreal.com"),
)

SUBSETS: tuple[SubsetSpec, ...] = tuple(
    subset(DATASET, name, display, family, (name,), aliases=aliases, description=description)
    for name, display, family, aliases, description in _GENERATORS
)

FORENSYNTHS = evaluation_set(
    DATASET,
    display_name="ForenSynths (CNNDetection test set)",
    description="CNNDetection's test set (Wang et al., CVPR 2020): 13 CNN generators, "
                "0_real/1_fake per generator, class folders under progan, stylegan, stylegan2 "
                "and cyclegan; all PNG",
    layout="{subset}/**/{label}",
    recognise=all_of(holds_any("progan"),
                     holds_any("crn", "imle", "seeingdark", "san", "deepfake")),
    recognised_by="CNN_synth_testset unpacked: progan/ and one of crn/, imle/, seeingdark/, "
                  "san/, deepfake/",
    aliases=("cnndetection", "cnn_synth_testset", "cnnspot-test"),
)


gibench_add_datasets, gibench_add_subsets = hooks(FORENSYNTHS, SUBSETS)
