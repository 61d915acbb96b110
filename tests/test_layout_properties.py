"""Layout detection and indexing, property-based: for random mixes of GenImage's folder layouts
(nested, flattened, display name, top folder) among junk folders and files, ``locate_subset``
picks the first candidate that holds a split folder, and indexing lists exactly the image files
written, whatever the case of their extension."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gibench.builtin.genimage import GENIMAGE_SUBSETS
from gibench.data.layout import IMAGE_EXTENSIONS, LayoutError, index_split, locate_subset
from gibench.specs import FAKE

SPLITS = ("train", "val")
NON_IMAGES = (".txt", ".json", ".zip", ".z01", ".md", "")

_stem = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
                min_size=1, max_size=8)


@st.composite
def any_case(draw, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@st.composite
def image_name(draw) -> str:
    ext = draw(st.sampled_from(sorted(IMAGE_EXTENSIONS)).flatmap(any_case))
    folder = draw(st.sampled_from(["", "", "", "n01440764/", "sub/deeper/"]))
    return folder + draw(_stem) + ext


@st.composite
def junk_name(draw) -> str:
    """A file that is not an image: another extension, a hidden image, an extension-less name
    that looks like one, or an image inside a hidden folder."""
    kind = draw(st.sampled_from(["other", "hidden", "bare", "hidden folder"]))
    stem = "j_" + draw(_stem)  # never the name of an image's sub-folder
    if kind == "other":
        return stem + draw(st.sampled_from(NON_IMAGES))
    if kind == "hidden":
        return "." + stem + ".png"
    if kind == "bare":
        return draw(st.sampled_from(["png", "JPEG", "webp"]))
    return f".cache/{stem}.jpg"


@st.composite
def data_roots(draw):
    """A subset spec, which of its candidate folders exist, which splits each holds, junk."""
    spec = draw(st.sampled_from(GENIMAGE_SUBSETS))
    created = draw(st.lists(st.sampled_from(spec.folders), unique=True, max_size=4))
    splits = {c: draw(st.lists(st.sampled_from(SPLITS), unique=True)) for c in created}
    # junk next to the candidates: folders that are no candidate, archives, a *file* named
    # like a split (which is not a split folder)
    root_junk = draw(st.lists(_stem.map(lambda s: "zz_" + s), unique=True, max_size=3))
    split_files = {c: draw(st.booleans()) for c in created if not splits[c]}
    images = {label: draw(st.lists(image_name(), min_size=1, max_size=6, unique_by=str.lower))
              for label in ("ai", "nature")}
    junk = {label: draw(st.lists(junk_name(), max_size=4, unique=True))
            for label in ("ai", "nature")}
    return spec, created, splits, root_junk, split_files, images, junk


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"never decoded")


@settings(max_examples=50, deadline=None)
@given(case=data_roots())
def test_the_first_candidate_with_a_split_is_found_and_indexed_exactly(case):
    spec, created, splits, root_junk, split_files, images, junk = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in root_junk:
            (root / name / "train").mkdir(parents=True)  # a stray layout, of no subset
        for candidate in created:
            (root / candidate).mkdir(parents=True, exist_ok=True)
            _touch(root / candidate / "README.txt")
            for split in splits[candidate]:
                for label in ("ai", "nature"):
                    for name in [*images[label], *junk[label]]:
                        _touch(root / candidate / split / label / name)
            if split_files.get(candidate):
                _touch(root / candidate / "train")
        expected = next((c for c in spec.folders if c in created and splits[c]), None)
        event("not found" if expected is None else f"layout {spec.folders.index(expected)}")
        if expected is None:
            with pytest.raises(LayoutError) as info:
                locate_subset(root, spec)
            assert info.value.path == root
            return
        subset_dir = locate_subset(root, spec)
        assert subset_dir == root / expected
        for split in SPLITS:
            if split not in splits[expected]:
                with pytest.raises(LayoutError, match="missing split folder"):
                    index_split(subset_dir, split)
                continue
            index = index_split(subset_dir, split, subset=spec.name)
            want = sorted(f"{split}/{label}/{name}" for label in ("ai", "nature")
                          for name in images[label])
            assert index.paths == want
            assert index.n_fake == len(images["ai"]) and index.n_real == len(images["nature"])
            assert all((label == FAKE) == path.startswith(f"{split}/ai/")
                       for path, label in zip(index.paths, index.labels, strict=True))
