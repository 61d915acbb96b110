"""GenImage (Zhu et al., NeurIPS 2023) and its eight generator subsets, as a built-in plugin.

The dataset (:data:`GENIMAGE`) has the core's default conventions — ``train``/``val`` split
folders, ``ai`` (fake) and ``nature`` (real) label folders, evaluation on ``val`` — trains on
SD V1.4 by default (Tables 3 and 5 of the paper) and is recognised under a data root by the
folder of any of its subsets.

Each subset is found under a data root in any of the layouts people keep it in, tried in order:

1. nested, as the archives unpack: ``stable_diffusion_v_1_4/imagenet_ai_0419_sdv4``;
2. flattened: ``imagenet_ai_0419_sdv4``;
3. the display names of the official README's tree: ``Stable Diffusion V1.4``;
4. the top folder alone, in case it already holds ``train``/``val``: ``stable_diffusion_v_1_4``.

Folder names come from the archives (``imagenet_ai_0419_sdv4.zip`` ...) and the dataset tree in
the README of GenImage-Dataset/GenImage.
"""

from __future__ import annotations

from collections.abc import Sequence

from gibench.hookspecs import hookimpl
from gibench.specs import DatasetSpec, SubsetSpec

DATASET = "genimage"

#: The subset the paper trains on for Tables 3 and 5.
GENIMAGE_TRAIN_DEFAULT = "sdv1.4"


def _unique(items: Sequence[str], exclude: str = "") -> tuple[str, ...]:
    """``items`` without repeats (compared case-insensitively) and without ``exclude``."""
    seen = {exclude.casefold()} if exclude else set()
    kept = []
    for item in items:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            kept.append(item)
    return tuple(kept)


def _genimage_subset(
    name: str,
    display_name: str,
    family: str,
    top: str,
    inner: str,
    readme: str,
    aliases: Sequence[str],
    description: str,
) -> SubsetSpec:
    """A GenImage subset unpacked as ``top/inner`` and listed in the README as ``readme``."""
    # Folders are compared exactly (file systems may be case-sensitive), so ``glide`` and
    # ``GLIDE`` both stay; only exact repeats (``BigGAN`` as top folder and README name) go.
    folders = tuple(dict.fromkeys((f"{top}/{inner}", inner, readme, top)))
    return SubsetSpec(
        name=name,
        display_name=display_name,
        family=family,
        dataset=DATASET,
        folders=folders,
        aliases=_unique([*aliases, inner, top, display_name, readme], exclude=name),
        description=description,
    )


GENIMAGE_SUBSETS: tuple[SubsetSpec, ...] = (
    _genimage_subset(
        "midjourney",
        "Midjourney",
        "commercial (diffusion)",
        top="Midjourney",
        inner="imagenet_midjourney",
        readme="Midjourney",
        aliases=("mj",),
        description="Midjourney (commercial service); 1024x1024 PNG fakes.",
    ),
    _genimage_subset(
        "sdv1.4",
        "SD V1.4",
        "diffusion (latent)",
        top="stable_diffusion_v_1_4",
        inner="imagenet_ai_0419_sdv4",
        readme="Stable Diffusion V1.4",
        aliases=("sd14", "sdv14", "sd-v1.4", "sd1.4", "sdv4"),
        description="Stable Diffusion V1.4; 512x512 PNG fakes. The paper's training subset.",
    ),
    _genimage_subset(
        "sdv1.5",
        "SD V1.5",
        "diffusion (latent)",
        top="stable_diffusion_v_1_5",
        inner="imagenet_ai_0424_sdv5",
        readme="Stable Diffusion V1.5",
        aliases=("sd15", "sdv15", "sd-v1.5", "sd1.5", "sdv5"),
        description="Stable Diffusion V1.5; 512x512 PNG fakes.",
    ),
    _genimage_subset(
        "adm",
        "ADM",
        "diffusion (pixel)",
        top="ADM",
        inner="imagenet_ai_0508_adm",
        readme="ADM",
        aliases=("guided-diffusion", "guided_diffusion"),
        description="ADM (guided diffusion, Dhariwal & Nichol); 256x256 PNG fakes.",
    ),
    _genimage_subset(
        "glide",
        "GLIDE",
        "diffusion (pixel)",
        top="glide",
        inner="imagenet_glide",
        readme="GLIDE",
        aliases=(),
        description="GLIDE (OpenAI); 256x256 PNG fakes.",
    ),
    _genimage_subset(
        "wukong",
        "Wukong",
        "diffusion (latent)",
        top="wukong",
        inner="imagenet_ai_0424_wukong",
        readme="Wukong",
        aliases=(),
        description="Wukong (Chinese text-to-image latent diffusion); 512x512 PNG fakes.",
    ),
    _genimage_subset(
        "vqdm",
        "VQDM",
        "diffusion (VQ)",
        top="VQDM",
        inner="imagenet_ai_0419_vqdm",
        readme="VQDM",
        aliases=("vq-diffusion", "vq_diffusion", "vqdiffusion"),
        description="VQ-Diffusion (Microsoft); 256x256 PNG fakes.",
    ),
    _genimage_subset(
        "biggan",
        "BigGAN",
        "GAN",
        top="BigGAN",
        inner="imagenet_ai_0419_biggan",
        readme="BigGAN",
        aliases=("big-gan", "big_gan"),
        description="BigGAN (class-conditional GAN); 128x128 PNG fakes.",
    ),
)


GENIMAGE = DatasetSpec(
    name=DATASET,
    display_name="GenImage",
    description="GenImage (Zhu et al., NeurIPS 2023): ImageNet photographs and eight "
                "generators' images; reported on val",
    default_train_subset=GENIMAGE_TRAIN_DEFAULT,
    recognised_by="a GenImage tree: the folder of one of its subsets (e.g. "
                  "stable_diffusion_v_1_4/imagenet_ai_0419_sdv4 or imagenet_ai_0419_sdv4) "
                  "holding train/ or val/",
)


@hookimpl
def gibench_add_datasets() -> Sequence[DatasetSpec]:
    """Register the GenImage dataset."""
    return [GENIMAGE]


@hookimpl
def gibench_add_subsets() -> Sequence[SubsetSpec]:
    """Register GenImage's eight generator subsets."""
    return GENIMAGE_SUBSETS
