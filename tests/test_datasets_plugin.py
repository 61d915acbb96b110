"""The gibench-datasets distribution: each dataset it registers is read in the layout its
authors ship, built here at tiny size with the exact folder names.

Every tree below is described by the test itself (which folder holds how many real and fake
images, and which subset that folder belongs to), so the expected counts do not come from the
plugin's patterns: ForenSynths' class folders must be merged, UniversalFakeDetect's shared real
folders read by every subset that names them, Synthbuster's reals taken from a second root,
WildRF's platforms read under ``test/``.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gibench.cli import main
from gibench.data.datasets import infer_dataset
from gibench.registry import clear_registry_cache, get_registry
from tests.conftest import _toy_image

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "plugins" / "gibench-datasets"
PACKAGE = PLUGIN / "gibench_datasets"

DATASETS = ("forensynths", "ufd", "aigcdetect", "synthbuster", "chameleon", "wildrf",
            "aigibench", "aigi-holmes", "genimage-safe")


# ------------------------------------------------------------------------------ installing


def entry_points() -> dict[str, str]:
    """The ``[project.entry-points.gibench]`` table of the plugin's pyproject.toml (read by
    hand: ``tomllib`` is Python 3.11+)."""
    table, inside = {}, False
    for line in (PLUGIN / "pyproject.toml").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == "[project.entry-points.gibench]"
        elif inside and "=" in line and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            table[key] = value.strip('"')
    return table


def install_datasets_plugin(site: Path, monkeypatch) -> None:
    """Install gibench-datasets as pip would leave an editable install: its folder on
    ``sys.path`` and a ``.dist-info`` whose entry points are the pyproject's."""
    info = site / "gibench_datasets-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gibench-datasets\n"
                                   "Version: 0.1.0\n")
    lines = ["[gibench]"] + [f"{k} = {v}" for k, v in entry_points().items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGIN))
    clear_registry_cache()


@pytest.fixture
def datasets_plugin(toy_plugin, monkeypatch):
    """gibench-datasets installed beside the toy plugin (whose ``tinynet`` evaluates)."""
    install_datasets_plugin(toy_plugin, monkeypatch)
    return get_registry()


# ------------------------------------------------------------------------------ the trees

#: A tree: {folder relative to the root: (subset, label, images)}, label 0 real / 1 fake.
Tree = dict[str, tuple[str, int, int]]

FORENSYNTHS_CLASSES = {"progan": ("airplane", "bird"), "stylegan": ("bedroom", "car"),
                       "stylegan2": ("cat",), "cyclegan": ("apple", "horse")}
FORENSYNTHS_FLAT = ("biggan", "stargan", "gaugan", "crn", "imle", "seeingdark", "san",
                    "deepfake", "whichfaceisreal")


def forensynths_tree() -> Tree:
    tree: Tree = {}
    for i, (name, classes) in enumerate(FORENSYNTHS_CLASSES.items()):
        for j, cls in enumerate(classes):
            tree[f"{name}/{cls}/0_real"] = (name, 0, 1 + (i + j) % 2)
            tree[f"{name}/{cls}/1_fake"] = (name, 1, 1 + (i + j + 1) % 3)
    for i, name in enumerate(FORENSYNTHS_FLAT):
        tree[f"{name}/0_real"] = (name, 0, 1 + i % 3)
        tree[f"{name}/1_fake"] = (name, 1, 1 + (i + 1) % 2)
    return tree


UFD_FAKES = ("guided", "ldm_200", "ldm_200_cfg", "ldm_100", "glide_100_27", "glide_50_27",
             "glide_100_10", "dalle")


def ufd_tree() -> Tree:
    # the real folders belong to no one subset: the expected counts name them explicitly
    tree: Tree = {"imagenet/0_real": ("", 0, 3), "laion/0_real": ("", 0, 2)}
    for i, name in enumerate(UFD_FAKES):
        tree[f"{name}/1_fake"] = (name, 1, 1 + i % 3)
    return tree


def ufd_expected() -> dict[str, tuple[int, int]]:
    fakes = {name: n for _, (name, label, n) in ufd_tree().items() if label == 1}
    return {name: (3 if name == "guided" else 2, fakes[name]) for name in UFD_FAKES}


AIGCDETECT_FOLDERS = {  # subset -> folder, as eval_config.py spells it (SDXL: third parties')
    "progan": "progan", "stylegan": "stylegan", "biggan": "biggan", "cyclegan": "cyclegan",
    "stargan": "stargan", "gaugan": "gaugan", "stylegan2": "stylegan2",
    "whichfaceisreal": "whichfaceisreal", "adm": "ADM", "glide": "Glide",
    "midjourney": "Midjourney", "sdv1.4": "stable_diffusion_v_1_4",
    "sdv1.5": "stable_diffusion_v_1_5", "vqdm": "VQDM", "wukong": "wukong", "dalle2": "DALLE2",
    "sdxl": "SDXL"}


def aigcdetect_tree() -> Tree:
    tree: Tree = {}
    for i, (name, folder) in enumerate(AIGCDETECT_FOLDERS.items()):
        if name in ("progan", "cyclegan"):  # the class level CNNDetection's GANs keep
            for cls in ("horse", "zebra"):
                tree[f"{folder}/{cls}/0_real"] = (name, 0, 1)
                tree[f"{folder}/{cls}/1_fake"] = (name, 1, 1 + i % 2)
        else:
            tree[f"{folder}/0_real"] = (name, 0, 1 + i % 2)
            tree[f"{folder}/1_fake"] = (name, 1, 1 + (i + 1) % 3)
    return tree


SYNTHBUSTER_FOLDERS = {"dalle2": "dalle2", "dalle3": "dalle3", "firefly": "firefly",
                       "glide": "glide", "midjourney-v5": "midjourney-v5",
                       "sdv1.3": "stable-diffusion-1-3", "sdv1.4": "stable-diffusion-1-4",
                       "sdv2": "stable-diffusion-2", "sdxl": "stable-diffusion-xl"}
#: RAISE-1k as users keep it: converted PNGs, in folders of their own
RAISE_TREE: Tree = {"RAISE_1k/part1": ("", 0, 2), "RAISE_1k/part2/more": ("", 0, 1)}


def synthbuster_tree() -> Tree:
    return {folder: (name, 1, 1 + i % 3)
            for i, (name, folder) in enumerate(SYNTHBUSTER_FOLDERS.items())}


def synthbuster_expected() -> dict[str, tuple[int, int]]:
    n_raise = sum(n for _, _, n in RAISE_TREE.values())
    return {name: (n_raise, n) for _, (name, _, n) in synthbuster_tree().items()}


def chameleon_tree() -> Tree:
    return {"test/0_real": ("chameleon", 0, 3), "test/1_fake": ("chameleon", 1, 2)}


def wildrf_tree() -> Tree:
    tree: Tree = {"train/0_real": ("trainval", 0, 2), "train/1_fake": ("trainval", 1, 3),
                  "val/0_real": ("", 0, 1), "val/1_fake": ("", 1, 1)}
    for i, platform in enumerate(("reddit", "twitter", "facebook")):
        tree[f"test/{platform}/0_real"] = (platform, 0, 1 + i)
        tree[f"test/{platform}/1_fake"] = (platform, 1, 3 - i)
    return tree


AIGIBENCH_FOLDERS = ("BlendFace", "BLIP", "CommunityAI", "DALLE-3", "E4S", "FaceSwap",
                     "FLUX1-dev", "GLIDE", "Imagen3", "Infinite-ID", "InstantID", "InSwap",
                     "IP-Adapter", "Midjourney-V6", "PhotoMaker", "ProGAN", "R3GAN", "SD3",
                     "SDXL", "SimSwap", "SocialRF", "StyleGAN-XL", "StyleGAN3", "StyleSwim",
                     "WFIR")  # Midjourney as the README's tree names it


def aigibench_tree() -> Tree:
    tree: Tree = {}
    for i, folder in enumerate(AIGIBENCH_FOLDERS):
        name = "midjourney" if folder == "Midjourney-V6" else folder.lower()
        tree[f"test/{folder}/0_real"] = (name, 0, 1 + i % 2)
        tree[f"test/{folder}/1_fake"] = (name, 1, 1 + (i // 2) % 2)
    return tree


HOLMES_FOLDERS = ("FLUX", "Infinity", "Janus-Pro-1B", "Janus-Pro-7B", "Janus", "LlamaGen",
                  "PixArt-XL", "SD35-L", "Show-o", "VAR")


def holmes_tree() -> Tree:  # the root holds TestSet/, as the README's tree does
    tree: Tree = {}
    for i, folder in enumerate(HOLMES_FOLDERS):
        tree[f"TestSet/{folder}/0_real"] = (folder.lower(), 0, 1 + i % 3)
        tree[f"TestSet/{folder}/1_fake"] = (folder.lower(), 1, 1 + i % 2)
    return tree


GENIMAGE_SAFE_FOLDERS = {"adm": "ADM", "biggan": "BigGAN", "glide": "Glide",
                         "midjourney": "Midjourney", "sdv1.4": "stable_diffusion_v_1_4",
                         "sdv1.5": "stable_diffusion_v_1_5", "vqdm": "VQDM", "wukong": "wukong"}


def genimage_safe_tree() -> Tree:
    tree: Tree = {}
    for i, (name, folder) in enumerate(GENIMAGE_SAFE_FOLDERS.items()):
        tree[f"test/{folder}/0_real"] = (name, 0, 2 - i % 2)
        tree[f"test/{folder}/1_fake"] = (name, 1, 1 + i % 2)
    return tree


def expected_from(tree: Tree) -> dict[str, tuple[int, int]]:
    """(reals, fakes) per subset: the sum of the folders the tree assigns to it."""
    counts: dict[str, list[int]] = {}
    for subset, label, n in tree.values():
        if subset:
            counts.setdefault(subset, [0, 0])[label] += n
    return {name: (real, fake) for name, (real, fake) in counts.items()}


TREES = {
    "forensynths": (forensynths_tree, None),
    "ufd": (ufd_tree, ufd_expected),
    "aigcdetect": (aigcdetect_tree, None),
    "synthbuster": (synthbuster_tree, synthbuster_expected),
    "chameleon": (chameleon_tree, None),
    "wildrf": (wildrf_tree, None),
    "aigibench": (aigibench_tree, None),
    "aigi-holmes": (holmes_tree, None),
    "genimage-safe": (genimage_safe_tree, None),
}

#: Chameleon is JPEG; everything else PNG.
_SUFFIX = {"chameleon": ".jpg"}


def write_tree(root: Path, tree: Tree, seed: int = 0, suffix: str = ".png") -> Path:
    rng = np.random.default_rng(seed)
    for folder, (_, label, n) in tree.items():
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _toy_image(rng, label == 1).save(d / f"{label}_{i:03d}{suffix}")
    return root


def build(dataset: str, tmp_path: Path) -> tuple[Path | dict[str, Path], dict]:
    """The dataset's tiny tree under ``tmp_path``: (its data root(s), expected counts for the
    evaluated split, per subset)."""
    make, expected = TREES[dataset]
    root = write_tree(tmp_path / dataset, make(), suffix=_SUFFIX.get(dataset, ".png"))
    counts = expected() if expected else expected_from(make())
    if dataset == "wildrf":
        del counts["trainval"]  # trained on, not tested: it has no test split
    if dataset == "synthbuster":
        (root / "prompts.csv").write_text("image name (matching Raise-1k),Prompt\n")
        raise_root = write_tree(tmp_path / "raise", RAISE_TREE, seed=1)
        return {"synthbuster": root, "synthbuster.raise": raise_root}, counts
    return root, counts


def main_root(roots) -> Path:
    return roots["synthbuster"] if isinstance(roots, dict) else roots


# ------------------------------------------------------------------------------ the tests


def test_the_distribution_registers_every_dataset_with_the_fields_conventions(datasets_plugin):
    registry = datasets_plugin
    for name in DATASETS:
        spec = registry.dataset(name)
        assert spec.name == name
        assert registry.provider("dataset", name).distribution == "gibench-datasets"
        assert spec.label_folders == {"0_real": 0, "1_fake": 1}
        assert spec.display_name and spec.description and spec.recognised_by
        assert spec.recognise is not None
        assert spec.eval_split in spec.splits
        subsets = registry.subsets(name)
        assert subsets and all(s.dataset == name for s in subsets)
        for sub in subsets:  # the folder names on disk find their subset, within the dataset
            for alias in (sub.name, *sub.aliases, *(Path(f).name for f in sub.folders)):
                if "{subset}" in (sub.layout or spec.layout):
                    assert registry.resolve("subset", alias, name) == sub.name, alias
            assert registry.subset(f"{name}/{sub.name}") is sub
        if name == "wildrf":  # the one with a training split
            assert spec.train_split == "train" and spec.default_train_subset == "trainval"
        else:
            assert spec.train_split is None and spec.splits == ("test",)
    assert len(registry.subsets("forensynths")) == 13
    assert len(registry.subsets("aigcdetect")) == 17
    assert len(registry.subsets("aigibench")) == 25
    assert len(registry.subsets("aigi-holmes")) == 10
    assert registry.dataset("synthbuster").extra_roots.keys() == {"raise"}


def test_each_module_cites_its_sources_and_imports_only_the_public_api():
    modules = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert {p.stem for p in modules} >= {"forensynths", "ufd", "aigcdetect", "synthbuster",
                                         "chameleon", "wildrf", "aigibench", "holmes",
                                         "genimage_safe"}
    for path in modules:
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        from_gibench = {m for m in imported if m == "gibench" or m.startswith("gibench.")}
        assert from_gibench <= {"gibench.api"}, f"{path.name} imports {from_gibench}"
        if path.name != "_common.py":
            doc = ast.get_docstring(tree) or ""
            assert "verified" in doc and "Where the names come from" in doc, path.name
    core = REPO / "harness" / "gibench"
    assert not [p for p in core.rglob("*.py") if "gibench_datasets" in p.read_text()]


@pytest.mark.parametrize("dataset", DATASETS)
def test_recognised_from_its_root_alone(datasets_plugin, dataset, tmp_path):
    roots, _ = build(dataset, tmp_path)
    assert infer_dataset(datasets_plugin, main_root(roots)) == dataset


@pytest.mark.parametrize("dataset", DATASETS)
def test_indexing_counts_per_subset_and_label(datasets_plugin, dataset, tmp_path):
    roots, expected = build(dataset, tmp_path)
    found = index_counts(datasets_plugin, dataset, roots)
    assert found == expected


def test_wildrf_trains_on_train_and_val(datasets_plugin, tmp_path):
    roots, _ = build("wildrf", tmp_path)
    spec = datasets_plugin.dataset("wildrf")
    assert index_counts(datasets_plugin, "wildrf", roots, split="train",
                        subsets=["trainval"]) == {"trainval": (2, 3)}
    assert index_counts(datasets_plugin, "wildrf", roots, split="val",
                        subsets=["trainval"]) == {"trainval": (1, 1)}
    assert spec.default_train_subset == "trainval"


@pytest.mark.parametrize("dataset", ["forensynths", "ufd", "synthbuster", "wildrf",
                                     "aigi-holmes"])
def test_data_check_counts_per_subset_and_label(datasets_plugin, dataset, tmp_path):
    roots, expected = build(dataset, tmp_path)
    args = ["data", "check", *data_root_args(roots)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert check_counts(result.output) == expected


@pytest.mark.parametrize("dataset", ["forensynths", "synthbuster"])
def test_eval_over_the_dataset(datasets_plugin, dataset, tmp_path, one_thread):
    import gibench

    roots, expected = build(dataset, tmp_path)
    weights = tinynet_weights(datasets_plugin, tmp_path / "tinynet.pt")
    out = tmp_path / "eval"
    results = gibench.evaluate("tinynet", weights, data_root=roots, device="cpu", workers=0,
                               progress=False, out=out)
    assert set(results["dataset"]) == {dataset}
    assert {row.test_subset: (row.n_real, row.n_fake) for row in results.itertuples()} == \
        expected
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == sum(r + f for r, f in expected.values())
    if dataset == "forensynths":  # labels from the label folders, at any depth
        fake = scores["path"].str.contains("1_fake/")
    else:  # the reals were read from the second root, named @raise/ in the scores
        fake = ~scores["path"].str.startswith("@raise/RAISE_1k/")
    assert (scores["label"] == fake.astype(int)).all()
    record = json.loads((out / "run.json").read_text())
    assert record["resolved"]["dataset"] == dataset


def tinynet_weights(registry, path: Path) -> Path:
    """Weights of the toy plugin's ``tinynet``, seeded, saved as a plain state dict."""
    import torch

    torch.manual_seed(0)
    torch.save(registry.detector("tinynet").build().state_dict(), path)
    return path


# ------------------------------------------------------------------------------ adapters
# How the tests read the engine: the indexing function and the data-check report.


def data_root_args(roots) -> list[str]:
    """``data check``'s arguments: ROOT, and ``--data-root DATASET.ROOT=PATH`` per extra
    root."""
    if isinstance(roots, dict):
        main_key = next(k for k in roots if "." not in k)
        return [str(roots[main_key]), *(arg for name, path in roots.items() if name != main_key
                                        for arg in ("--data-root", f"{name}={path}"))]
    return [str(roots)]


def index_counts(registry, dataset: str, roots, split: str | None = None,
                 subsets: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """(reals, fakes) per subset of ``dataset`` indexed by the engine in ``split`` (default:
    the dataset's evaluation split)."""
    from gibench.data.datasets import split_roots
    from gibench.data.layout import index_subset, subset_splits

    spec = registry.dataset(dataset)
    root, _, extra = split_roots(registry, roots, dataset)
    split = split or spec.eval_split
    counts = {}
    for sub in registry.subsets(dataset):
        if subsets is not None and sub.name not in subsets:
            continue
        if split not in subset_splits(sub, spec):
            continue
        index = index_subset(root, sub, split, spec, extra)
        counts[sub.name] = (index.n_real, index.n_fake)
    return counts


_TITLE = re.compile(r"^(\S+) \(.*\):")
_ROW = re.compile(r"^\s*test\s+(\d+)\s+(\d+)\b")


def check_counts(output: str) -> dict[str, tuple[int, int]]:
    """(0_real, 1_fake) of the ``test`` row of each subset's table in ``data check``'s
    report."""
    counts, current = {}, None
    for line in output.splitlines():
        if m := _TITLE.match(line):
            current = m.group(1)
        elif current and (m := _ROW.match(line)):
            counts[current] = (int(m.group(1)), int(m.group(2)))
            current = None
    return counts


def test_a_bad_root_names_what_was_expected_and_found(datasets_plugin, tmp_path):
    import shutil

    import gibench
    from gibench.api import GibenchError

    roots, _ = build("synthbuster", tmp_path)
    with pytest.raises(GibenchError, match="synthbuster.raise=PATH"):  # the second root
        gibench.evaluate("tinynet", tinynet_weights(datasets_plugin, tmp_path / "w.pt"),
                         data_root=roots["synthbuster"],
                         device="cpu", workers=0, progress=False, out=tmp_path / "eval")
    root = write_tree(tmp_path / "fs", forensynths_tree())
    shutil.rmtree(root / "biggan" / "1_fake")  # a subset with one class
    with pytest.raises(GibenchError, match="(?s)1_fake.*found: .*0_real/"):
        index_counts(datasets_plugin, "forensynths", root, subsets=["biggan"])
