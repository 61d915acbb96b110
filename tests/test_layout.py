"""Finding GenImage subsets in their three layouts and indexing them (paths only, no pixels)."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from gibench.builtin import genimage
from gibench.builtin.genimage import GENIMAGE_SUBSETS, GENIMAGE_TRAIN_DEFAULT
from gibench.data.layout import (
    IMAGE_EXTENSIONS,
    ImageIndex,
    LayoutError,
    describe_folder,
    find_subset_dir,
    index_split,
    index_subset,
    list_images,
    locate_subset,
    stratified_holdout,
)
from gibench.specs import FAKE, REAL

SPECS = {spec.name: spec for spec in GENIMAGE_SUBSETS}
SD14 = SPECS["sdv1.4"]

# Where each layout puts SD V1.4 under the data root.
SD14_LAYOUTS = {
    "nested": "stable_diffusion_v_1_4/imagenet_ai_0419_sdv4",
    "flattened": "imagenet_ai_0419_sdv4",
    "display": "Stable Diffusion V1.4",
    "top-only": "stable_diffusion_v_1_4",
}


def _touch(path: Path, data: bytes = b"not an image, never read") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_sd14(subset_dir: Path, n_fake: int = 3, n_real: int = 2) -> Path:
    """A SD V1.4 subset with GenImage's file names; the files hold garbage bytes."""
    for split in ("train", "val"):
        for i in range(n_fake):
            _touch(subset_dir / split / "ai" / f"000_sdv4_{i:05d}.png")
        for i in range(n_real):
            name = (
                f"n01440764_{10043 + i}.JPEG"
                if split == "train"
                else (f"ILSVRC2012_val_{i + 1:08d}.JPEG")
            )
            _touch(subset_dir / split / "nature" / name)
    return subset_dir


# --- the GenImage specs ---------------------------------------------------------------------


def test_genimage_has_the_eight_subsets_in_paper_order():
    names = tuple(spec.name for spec in GENIMAGE_SUBSETS)
    assert names == ("midjourney", "sdv1.4", "sdv1.5", "adm", "glide", "wukong", "vqdm", "biggan")
    assert {spec.dataset for spec in GENIMAGE_SUBSETS} == {"genimage"}
    assert GENIMAGE_TRAIN_DEFAULT == "sdv1.4" and GENIMAGE_TRAIN_DEFAULT in names
    assert genimage.gibench_add_subsets() is GENIMAGE_SUBSETS


def test_hook_registers_through_pluggy():
    import pluggy

    from gibench import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(genimage)
    (returned,) = pm.hook.gibench_add_subsets()
    assert [s.name for s in returned][:2] == ["midjourney", "sdv1.4"]


def test_names_and_aliases_do_not_collide_across_subsets():
    owner: dict[str, str] = {}
    for spec in GENIMAGE_SUBSETS:
        for key in {spec.name.casefold(), *(a.casefold() for a in spec.aliases)}:
            assert key not in owner, f"{key!r} claimed by {owner.get(key)} and {spec.name}"
            owner[key] = spec.name
    assert owner["sd14"] == "sdv1.4" and owner["stable diffusion v1.5"] == "sdv1.5"


def test_sdv14_aliases_and_folder_order():
    assert SD14.display_name == "SD V1.4"
    assert SD14.family == "diffusion (latent)"
    for alias in (
        "sd14",
        "sdv14",
        "sd-v1.4",
        "stable_diffusion_v_1_4",
        "imagenet_ai_0419_sdv4",
        "sdv4",
        "SD V1.4",
        "Stable Diffusion V1.4",
    ):
        assert alias in SD14.aliases
    assert SD14.folders == tuple(SD14_LAYOUTS.values())


@pytest.mark.parametrize(
    ("name", "nested", "display"),
    [
        ("midjourney", "Midjourney/imagenet_midjourney", "Midjourney"),
        ("sdv1.5", "stable_diffusion_v_1_5/imagenet_ai_0424_sdv5", "Stable Diffusion V1.5"),
        ("adm", "ADM/imagenet_ai_0508_adm", "ADM"),
        ("glide", "glide/imagenet_glide", "GLIDE"),
        ("wukong", "wukong/imagenet_ai_0424_wukong", "Wukong"),
        ("vqdm", "VQDM/imagenet_ai_0419_vqdm", "VQDM"),
        ("biggan", "BigGAN/imagenet_ai_0419_biggan", "BigGAN"),
    ],
)
def test_folders_nested_then_flattened_then_display_then_top(name, nested, display):
    folders = SPECS[name].folders
    top, inner = nested.split("/")
    assert folders[:3] == (nested, inner, display)
    assert folders[-1] == top
    assert len(folders) == len(set(folders))


# --- finding a subset -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(SD14_LAYOUTS))
def test_each_layout_is_found_and_indexed(tmp_path, layout):
    make_sd14(tmp_path / SD14_LAYOUTS[layout])
    assert find_subset_dir(tmp_path, SD14) == tmp_path / SD14_LAYOUTS[layout]
    index = index_subset(tmp_path, SD14, "val")
    assert (index.subset, index.split, len(index)) == ("sdv1.4", "val", 5)
    assert index.root == tmp_path / SD14_LAYOUTS[layout]


def test_nested_layout_wins_over_flattened(tmp_path):
    make_sd14(tmp_path / SD14_LAYOUTS["flattened"])
    make_sd14(tmp_path / SD14_LAYOUTS["nested"])
    assert locate_subset(tmp_path, SD14) == tmp_path / SD14_LAYOUTS["nested"]


def test_candidate_without_split_folders_is_skipped(tmp_path):
    # The top folder holds only the archive parts; the flattened copy holds the images.
    _touch(tmp_path / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4.z01")
    make_sd14(tmp_path / "imagenet_ai_0419_sdv4")
    assert locate_subset(tmp_path, SD14) == tmp_path / "imagenet_ai_0419_sdv4"


def test_missing_subset_error_lists_candidates_and_what_is_there(tmp_path):
    make_sd14(tmp_path / "imagenet_ai_0419_sdv4")
    (tmp_path / "BigGAN").mkdir()  # exists, but holds no train/val
    _touch(tmp_path / "BigGAN" / "imagenet_ai_0419_biggan.zip")
    with pytest.raises(LayoutError) as info:
        locate_subset(tmp_path, SPECS["biggan"])
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert info.value.path == tmp_path
    assert str(tmp_path / "BigGAN" / "imagenet_ai_0419_biggan") in message
    assert str(tmp_path / "imagenet_ai_0419_biggan") in message
    assert "{train,val}/{ai,nature}" in message
    assert "BigGAN/" in message and "imagenet_ai_0419_sdv4/" in message  # the root's entries
    assert "imagenet_ai_0419_biggan.zip" in message  # what the existing candidate holds
    assert find_subset_dir(tmp_path, SPECS["biggan"]) is None


def test_missing_root_is_a_layout_error(tmp_path):
    with pytest.raises(LayoutError, match="does not exist") as info:
        locate_subset(tmp_path / "nowhere", SD14)
    assert str(tmp_path / "nowhere") in str(info.value)


# --- indexing -------------------------------------------------------------------------------


def test_index_counts_labels_and_sorted_relative_paths(tmp_path):
    subset_dir = make_sd14(tmp_path / "sd", n_fake=4, n_real=3)
    index = index_split(subset_dir, "train", subset="sdv1.4")
    assert (len(index), index.n_fake, index.n_real) == (7, 4, 3)
    assert index.labels.dtype == np.uint8
    assert index.paths == sorted(index.paths)
    assert index.paths[0] == "train/ai/000_sdv4_00000.png"
    assert index.paths[-1] == "train/nature/n01440764_10045.JPEG"
    for rel, label in zip(index.paths, index.labels, strict=True):
        assert label == (FAKE if rel.startswith("train/ai/") else REAL)
    assert FAKE == 1 and index.labels[0] == 1  # fake is the positive class, not ImageFolder's 0
    assert index.path(0) == subset_dir / "train" / "ai" / "000_sdv4_00000.png"
    assert index.path(0).is_absolute() and index.path(0).is_file()
    val = index_split(subset_dir, "val")
    assert val.paths[-1] == "val/nature/ILSVRC2012_val_00000003.JPEG"


def test_extensions_any_case_and_non_images_ignored(tmp_path):
    ai = tmp_path / "adm" / "train" / "ai"
    nature = tmp_path / "adm" / "train" / "nature"
    for name in ("460_adm_74.PNG", "460_adm_75.png", "x.Jpg", "y.webp", "z.TIFF"):
        _touch(ai / name)
    for name in ("notes.txt", "labels.json", "Thumbs.db", ".DS_Store", ".hidden.png", "png"):
        _touch(ai / name)
    _touch(ai / ".cache" / "skipped.png")  # hidden folder
    _touch(nature / "n01440764" / "n01440764_10043.JPEG")  # class sub-folders are walked
    _touch(nature / "n01443537" / "n01443537_2.JPEG")
    index = index_split(tmp_path / "adm", "train")
    assert index.paths == [
        "train/ai/460_adm_74.PNG",
        "train/ai/460_adm_75.png",
        "train/ai/x.Jpg",
        "train/ai/y.webp",
        "train/ai/z.TIFF",
        "train/nature/n01440764/n01440764_10043.JPEG",
        "train/nature/n01443537/n01443537_2.JPEG",
    ]
    assert ".jpeg" in IMAGE_EXTENSIONS and all(e == e.lower() for e in IMAGE_EXTENSIONS)


def test_indexing_never_opens_a_file(tmp_path, monkeypatch):
    subset_dir = make_sd14(tmp_path / "sd")  # garbage bytes: decoding any of them would fail
    _touch(subset_dir / "train" / "ai" / "116_biggan_00107.png", b"\x00\xff" * 4)

    def forbidden(*args, **kwargs):
        raise AssertionError(f"indexing opened {args[:1]}")

    with monkeypatch.context() as patch:
        patch.setattr(PIL.Image, "open", forbidden)
        patch.setattr(builtins, "open", forbidden)
        index = index_split(subset_dir, "train")
    assert index.n_fake == 4 and "train/ai/116_biggan_00107.png" in index.paths


def test_symlink_loop_is_walked_once(tmp_path):
    ai = tmp_path / "train" / "ai"
    _touch(ai / "000_sdv4_00000.png")
    (ai / "loop").symlink_to(ai, target_is_directory=True)
    assert list_images(ai) == ["000_sdv4_00000.png"]


def test_missing_nature_folder_names_it_and_lists_the_split(tmp_path):
    _touch(tmp_path / "sd" / "train" / "ai" / "000_sdv4_00000.png")
    (tmp_path / "sd" / "train" / "natural").mkdir()
    with pytest.raises(LayoutError) as info:
        index_split(tmp_path / "sd", "train")
    message = str(info.value)
    assert info.value.path == tmp_path / "sd" / "train" / "nature"
    assert f"missing label folder 'nature': {tmp_path / 'sd' / 'train' / 'nature'}" in message
    assert "found: in " + str(tmp_path / "sd" / "train") + ": 2 entries: ai/, natural/" in message


def test_missing_split_folder_names_it(tmp_path):
    make_sd14(tmp_path / "sd")
    shutil.rmtree(tmp_path / "sd" / "val")
    with pytest.raises(LayoutError) as info:
        index_split(tmp_path / "sd", "val")
    assert info.value.path == tmp_path / "sd" / "val"
    assert str(tmp_path / "sd" / "val" / "ai") in str(info.value)  # what was expected
    assert "1 entry: train/" in str(info.value)  # what was found


@pytest.mark.parametrize("junk", [[], ["readme.txt", ".DS_Store"]])
def test_folder_without_images_names_it_and_its_content(tmp_path, junk):
    make_sd14(tmp_path / "sd")
    empty = tmp_path / "sd" / "val" / "ai"
    for f in empty.iterdir():
        f.unlink()
    for name in junk:
        _touch(empty / name)
    with pytest.raises(LayoutError, match="no images in folder") as info:
        index_split(tmp_path / "sd", "val")
    assert info.value.path == empty
    assert str(empty) in str(info.value)
    if junk:
        assert "readme.txt" in info.value.found and ".DS_Store" in info.value.found
    else:
        assert "empty" in info.value.found


def test_describe_folder_shows_twenty_entries(tmp_path):
    for i in range(25):
        _touch(tmp_path / f"f{i:02d}.txt")
    text = describe_folder(tmp_path)
    assert text.startswith("25 entries: f00.txt, f01.txt")
    assert "f19.txt" in text and "f20.txt" not in text and text.endswith("and 5 more")


# --- the index and the held-out part ---------------------------------------------------------


def synthetic_index(n_fake: int, n_real: int) -> ImageIndex:
    paths = [f"train/ai/{i:03d}_sdv4_00000.png" for i in range(n_fake)]
    paths += [f"train/nature/n01440764_{10043 + i}.JPEG" for i in range(n_real)]
    labels = np.array([FAKE] * n_fake + [REAL] * n_real)
    return ImageIndex("sdv1.4", "train", Path("/data/sd"), paths, labels)


def test_index_subsample_and_repr():
    index = synthetic_index(3, 2)
    part = index.subsample([4, 0])
    assert part.paths == ["train/nature/n01440764_10044.JPEG", "train/ai/000_sdv4_00000.png"]
    assert part.labels.tolist() == [REAL, FAKE] and (part.n_real, part.n_fake) == (1, 1)
    assert part.path(1) == Path("/data/sd/train/ai/000_sdv4_00000.png")
    assert "n_fake=3" in repr(index) and "n01440764" not in repr(index)
    with pytest.raises(ValueError, match="labels"):
        ImageIndex("x", "train", Path("/"), ["a.png"], np.array([1, 0]))


def test_holdout_is_stratified_disjoint_and_sorted():
    index = synthetic_index(n_fake=50, n_real=30)
    kept, held = stratified_holdout(index, 0.2, seed=0)
    assert (held.n_fake, held.n_real) == (10, 6)
    assert (kept.n_fake, kept.n_real) == (40, 24)
    assert set(kept.paths).isdisjoint(held.paths)
    assert sorted(kept.paths + held.paths) == index.paths
    assert kept.paths == sorted(kept.paths) and held.paths == sorted(held.paths)
    for part in (kept, held):  # labels stay attached to their paths
        pairs = zip(part.paths, part.labels, strict=True)
        assert all((label == FAKE) == ("/ai/" in path) for path, label in pairs)


def test_holdout_is_deterministic_under_a_seed():
    index = synthetic_index(n_fake=40, n_real=40)
    first = stratified_holdout(index, 0.25, seed=7)[1].paths
    assert stratified_holdout(index, 0.25, seed=7)[1].paths == first
    assert stratified_holdout(index, 0.25, seed=8)[1].paths != first


def test_holdout_keeps_one_of_each_label_out_of_small_sets():
    kept, held = stratified_holdout(synthetic_index(n_fake=2, n_real=3), 0.01, seed=0)
    assert (held.n_fake, held.n_real) == (1, 1)
    assert (kept.n_fake, kept.n_real) == (1, 2)
    kept, held = stratified_holdout(synthetic_index(n_fake=2, n_real=2), 0.99, seed=0)
    assert (kept.n_fake, kept.n_real) == (1, 1)  # never everything held out
    kept, held = stratified_holdout(synthetic_index(n_fake=1, n_real=4), 0.5, seed=0)
    assert (kept.n_fake, held.n_fake) == (1, 0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_holdout_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="fraction"):
        stratified_holdout(synthetic_index(4, 4), fraction, seed=0)
