"""AIGIBench's test subsets (Li et al., "Is Artificial Intelligence Generated Image Detection a
Solved Problem?", NeurIPS 2025 Datasets and Benchmarks): 25 sources in five groups.

Layout (the data root is the folder that holds ``test/``)::

    <root>/test/{BlendFace,BLIP,CommunityAI,DALLE-3,E4S,FaceSwap,FLUX1-dev,GLIDE,Imagen3,
                 Infinite-ID,InstantID,InSwap,IP-Adapter,Midjourney,PhotoMaker,ProGAN,R3GAN,SD3,
                 SDXL,SimSwap,SocialRF,StyleGAN-XL,StyleGAN3,StyleSwim,WFIR}/{0_real,1_fake}

Where the names come from, and what was verified where (HorizonTEL/AIGIBench):

- the ``test/<subset>/{0_real,1_fake}`` tree: the README's "Test" section (which shows
  ProGAN, R3GAN, BlendFace, InSwap, FLUX1-dev, Midjourney-V6, BLIP, Infinite-ID, CommunityAI,
  SocialRF);
- all 25 folder names, with their case: ``vals`` in the authors' evaluation configurations
  (``detector_codes/CNNDetection-master/eval_config.py``,
  ``detector_codes/RealTime-DeepfakeDetection-in-the-RealWorld-main/test_config.py``), every
  one ``multiclass = 0`` (no class level), and the per-subset lines of their logs. The README's
  tree says ``Midjourney-V6`` where the configurations say ``Midjourney``: both are looked for,
  ``Midjourney`` first;
- the groups (families below): the README's five perspectives (GAN noise-to-image, diffusion
  text-to-image, GAN deepfakes, personalised diffusion, open platforms). Which subset belongs
  to which group is this module's reading of the generators' names, not the authors' list.

The training sets (Setting-I: ProGAN ``train/{car,cat,chair,horse}``; Setting-II: the same plus
``train/sdv1.4``) are not described here: only the test subsets are registered.
"""

from __future__ import annotations

from gibench.api import SubsetSpec
from gibench_datasets._common import TEST, evaluation_set, holds_any, hooks, subset

DATASET = "aigibench"

_GAN = "GAN (noise-to-image)"
_T2I = "diffusion (text-to-image)"
_FACE = "GAN (deepfake)"
_PERSONAL = "diffusion (personalised)"
_WILD = "in the wild"

_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # folder(s) (the first is the name's source), family, aliases
    (("ProGAN",), _GAN, ()),
    (("R3GAN",), _GAN, ()),
    (("StyleGAN3",), _GAN, ()),
    (("StyleGAN-XL",), _GAN, ()),
    (("StyleSwim",), _GAN, ()),
    (("WFIR",), _GAN, ("whichfaceisreal",)),
    (("SD3",), _T2I, ()),
    (("SDXL",), _T2I, ()),
    (("DALLE-3",), _T2I, ("dalle3",)),
    (("FLUX1-dev",), _T2I, ("flux",)),
    (("GLIDE",), _T2I, ()),
    (("Imagen3",), _T2I, ()),
    (("Midjourney", "Midjourney-V6"), _T2I, ("mj",)),
    (("BlendFace",), _FACE, ()),
    (("E4S",), _FACE, ()),
    (("FaceSwap",), _FACE, ()),
    (("InSwap",), _FACE, ()),
    (("SimSwap",), _FACE, ()),
    (("BLIP",), _PERSONAL, ()),
    (("Infinite-ID",), _PERSONAL, ()),
    (("InstantID",), _PERSONAL, ()),
    (("IP-Adapter",), _PERSONAL, ()),
    (("PhotoMaker",), _PERSONAL, ()),
    (("CommunityAI",), _WILD, ()),
    (("SocialRF",), _WILD, ()),
)

SUBSETS: tuple[SubsetSpec, ...] = tuple(
    subset(DATASET, folders[0].lower(), folders[0], family, folders, aliases=aliases,
           description=f"test/{folders[0]}/{{0_real,1_fake}}")
    for folders, family, aliases in _SOURCES
)

AIGIBENCH = evaluation_set(
    DATASET,
    display_name="AIGIBench",
    description="AIGIBench's 25 test subsets (Li et al., NeurIPS 2025 D&B): GANs, text-to-"
                "image and personalised diffusion, face swaps, and images from communities and "
                "social media",
    layout="{split}/{subset}/{label}",
    recognise=holds_any("CommunityAI", "SocialRF", "R3GAN", "StyleGAN-XL", "BlendFace",
                        "InSwap", "Infinite-ID", "FLUX1-dev", under=TEST),
    recognised_by="the AIGIBench folder: test/ holding one of CommunityAI/, SocialRF/, R3GAN/, "
                  "StyleGAN-XL/, BlendFace/, InSwap/, Infinite-ID/, FLUX1-dev/",
)


gibench_add_datasets, gibench_add_subsets = hooks(AIGIBENCH, SUBSETS)
