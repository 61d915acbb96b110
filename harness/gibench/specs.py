"""The records that plugins hand to the core: one dataclass per kind of extension.

A plugin returns these from the registration hooks in :mod:`gibench.hookspecs`. They are
plain, frozen data plus a few callables; the core never dispatches on a plugin's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    import pandas as pd
    import torch
    from PIL import Image

    from gibench.suite import SuiteContext

#: Label of a generated (``ai``) image: the positive class.
FAKE = 1
#: Label of a real (``nature``) image.
REAL = 0
#: The label folders a dataset has unless its :class:`DatasetSpec` says otherwise (GenImage's).
LABEL_FOLDERS: dict[str, int] = {"nature": REAL, "ai": FAKE}
#: The split folders a dataset has unless its :class:`DatasetSpec` says otherwise. GenImage
#: reports on ``val``; there is no test split.
SPLITS: tuple[str, ...] = ("train", "val")


@dataclass(frozen=True)
class SubsetSpec:
    """A named set of real and generated images, with ``train``/``val`` × ``ai``/``nature``.

    ``folders`` are the candidate paths of the subset under a data root, tried in order (the
    nested layout as unpacked, the flattened one, the README's display name...). The first that
    exists is used.
    """

    name: str
    display_name: str
    family: str
    dataset: str
    folders: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    description: str = ""
    #: A control, not a generator (e.g. mini-biased's placebo): evaluated and shown like any
    #: subset, but left out of averages over generators and of the matrix suite's trainings.
    control: bool = False
    #: Where this subset's images live, overriding its dataset's :attr:`DatasetSpec.layout`
    #: (the same pattern grammar; ``None``: the dataset's).
    layout: str | None = None
    #: Per label (:data:`REAL` / :data:`FAKE`), a pattern overriding the layout for that label
    #: only: UniversalFakeDetect's reals shared by several subsets (``{REAL: "laion/0_real"}``),
    #: Synthbuster's reals in a second root (``{REAL: "@raise"}``).
    sources: Mapping[int, str] = field(default_factory=dict)
    #: The splits this subset has (``None``: its dataset's ``splits``); a subset without its
    #: dataset's ``train_split`` can be tested on, not trained on.
    splits: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Budget:
    """How the engine scales a detector's recipe for a dataset (never by editing the recipe).

    A dataset without a budget policy (:attr:`DatasetSpec.budget`) runs every detector on its
    own recipe (:meth:`of_recipe`); a small dataset (``mini``) may run them smaller, shorter,
    or with a scaled learning rate. ``note`` says what was changed, for ``run.json``.
    """

    input_size: int
    load_size: int | None
    epochs: int
    lr_scale: float
    note: str

    @classmethod
    def of_recipe(cls, spec: DetectorSpec) -> Budget:
        """The detector's own recipe and input size, unchanged."""
        pre = spec.preprocess
        return cls(pre.input_size, pre.load_size, spec.recipe.epochs, 1.0,
                   "the detector's own recipe")


@dataclass(frozen=True)
class DatasetSpec:
    """A named collection of subsets with its own conventions on disk.

    Every subset (:class:`SubsetSpec`) names its dataset. ``layout`` says where the images of
    one label of one split of one subset live, relative to the dataset's root — by default
    ``{subset}/{split}/{label}`` — with the dataset's own names for the splits (``splits``) and
    for the label folders (``label_folders``: GenImage's ``ai``/``nature``, the field's
    ``1_fake``/``0_real``...). The pattern grammar (``**``, ``@ROOT``, per-label ``sources``,
    per-subset layouts and splits) is :mod:`gibench.data.layout`'s. A dataset that no plugin
    describes (its subsets name it, nothing registers it) gets :meth:`default`: the conventions
    below.

    - ``extra_roots`` are the other roots the dataset needs besides its own, name →
      description (Synthbuster's ``{"raise": "RAISE-1k, the real photographs"}``); a pattern
      reaches one as its first segment ``@NAME``, and a run gives it as
      ``data_root={"DATASET.NAME": path}`` (``--data-root DATASET.NAME=PATH``).
    - ``train_split`` is the split models train on (and whose held-out part calibrates them);
      ``None`` for a test-only dataset (nothing trains on it; it has no default training
      subset). ``eval_split`` is the split suites evaluate on (GenImage has no test split:
      ``val``).
    - ``default_train_subset`` is the subset a run trains on when none is asked for; ``None``
      means the first of the dataset's subsets, controls (:attr:`SubsetSpec.control`) aside,
      whose folder under the data root holds ``train_split``.
    - ``recognise(root) -> bool`` says whether a data root holds this dataset, so that
      ``--data-root`` alone picks it; ``None`` recognises a root that holds the folder of at
      least one of the dataset's subsets. ``recognised_by`` says in words what it looks for
      (shown when no dataset, or several, recognise a root).
    - ``build(seed=..., progress=...) -> Path`` builds the dataset on demand (or finds it
      cached) and returns its root, so that it needs no data root (``mini``); ``None`` for a
      dataset that lives on the user's disk. ``no_root_default`` marks the one dataset a run
      uses when given no data root at all (it needs a ``build``).
    - ``budget(spec, pretrained) -> Budget`` scales a detector's recipe for this dataset
      (``pretrained``: whether the run starts from weights); ``None`` keeps each detector's
      own recipe (:meth:`Budget.of_recipe`).
    - ``command`` is a :mod:`click` command that ``gibench data NAME`` runs, to build the
      dataset with options of its own; a dataset with a ``build`` and no command gets
      ``gibench data NAME [--seed S]``, which builds it and prints its root.
    """

    name: str
    display_name: str = ""
    description: str = ""
    default_train_subset: str | None = None
    splits: tuple[str, ...] = SPLITS
    train_split: str | None = "train"
    eval_split: str = "val"
    label_folders: Mapping[str, int] = field(default_factory=lambda: dict(LABEL_FOLDERS))
    recognise: Callable[[Path], bool] | None = None
    recognised_by: str = ""
    build: Callable[..., Path] | None = None
    no_root_default: bool = False
    budget: Callable[[DetectorSpec, bool], Budget] | None = None
    command: Any = None
    aliases: tuple[str, ...] = ()
    layout: str = "{subset}/{split}/{label}"
    extra_roots: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls, name: str) -> DatasetSpec:
        """The spec of a dataset that only its subsets name: the documented defaults."""
        return cls(name=name, display_name=name)

    def budget_for(self, spec: DetectorSpec, pretrained: bool) -> Budget:
        """The budget of detector ``spec`` on this dataset (its own recipe without a policy)."""
        return Budget.of_recipe(spec) if self.budget is None else self.budget(spec, pretrained)

    def label_of(self, folder: str) -> int:
        """The label (:data:`FAKE` / :data:`REAL`) of a label folder of this dataset."""
        return self.label_folders[folder]

    def folder_of(self, label: int) -> str:
        """The label folder holding images of ``label`` (:data:`FAKE` / :data:`REAL`)."""
        return next(f for f, lab in self.label_folders.items() if lab == label)


def averaged_subsets(subsets) -> list[str]:
    """The names of ``subsets`` (specs) that averages over generators include: not controls."""
    return [s.name for s in subsets if not s.control]


def control_subsets(subsets) -> list[str]:
    """The names of ``subsets`` (specs) that are controls (:attr:`SubsetSpec.control`)."""
    return [s.name for s in subsets if s.control]


@dataclass(frozen=True)
class Recipe:
    """A detector's default training recipe, as its authors used it for GenImage.

    ``schedule`` names how the learning rate evolves: ``"plateau"`` (divide by ten when the
    held-out accuracy stops improving for ``patience`` epochs, stop below ``min_lr``; CNNDetection's
    early stopping), ``"cosine"``, ``"step"`` (multiply by ``step_gamma`` after every
    ``step_epochs`` epochs, as :class:`torch.optim.lr_scheduler.StepLR` with ``step_size``
    ``step_epochs``; NPR's ``lr × 0.9`` every ``--delr_freq`` epochs) or ``"constant"``.
    """

    optimizer: str
    lr: float
    epochs: int
    batch_size: int
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    dampening: float = 0.0  # SGD only (AutoGAN trains with 0.9)
    schedule: str = "constant"
    patience: int = 5
    min_lr: float = 1e-6
    #: ``schedule="step"``: the lr is multiplied by ``step_gamma`` after every ``step_epochs``
    #: epochs (epochs counted from 1: after epochs ``step_epochs``, ``2·step_epochs``, ...)
    step_epochs: int = 0
    step_gamma: float = 0.1
    #: linear warm-up from ``warmup_lr`` over this many epochs (timm/DeiT/Swin recipes)
    warmup_epochs: float = 0.0
    warmup_lr: float = 0.0
    #: whether the authors fine-tuned from ImageNet weights (their lr suits a pretrained start)
    from_pretrained: bool = True
    notes: str = ""


#: ``transform(image, rng) -> uint8 CHW tensor`` of a fixed size; ``rng`` is a seeded
#: :class:`random.Random` owned by the caller, so augmentations are reproducible.
Transform = Callable[["Image.Image", Any], "torch.Tensor"]
#: ``batch(x) -> y``: a deterministic transform's batched form, on a uint8 batch
#: ``(N, 3, H, W)`` of equal-size images on any device, giving uint8 ``(N, 3, S, S)`` (or
#: ``(N, K, 3, S, S)`` for a multi-crop evaluation, whose logits are averaged over ``K``).
BatchOp = Callable[["torch.Tensor"], "torch.Tensor"]


@runtime_checkable
class BatchedTransform(Protocol):
    """An evaluation transform that also works on the device: the batched-transform protocol.

    A :data:`Transform` (``transform(image, rng)``, on the CPU, image by image) may carry a
    ``batch`` attribute, its :data:`BatchOp`, that computes the same result on a batch of
    decoded images of one size (any size: it reads it from the batch's shape), on their device.
    The engine then decodes at the images' own resolution, degrades the batch on the device
    and applies ``batch`` there (robustness settings, shared passes over several detectors);
    without it, it preprocesses on the CPU and degradations apply at the detector's input size.
    ``batch`` must equal the per-image transform up to rounding
    (:func:`gibench.testing.check_detector` compares them). Set it with :func:`with_batch`; the
    engine reads it with :func:`batch_of`.
    """

    batch: BatchOp

    def __call__(self, image: Image.Image, rng: Any = None) -> torch.Tensor: ...


_F = TypeVar("_F", bound=Callable[..., Any])


def with_batch(transform: _F, batch: BatchOp) -> _F:
    """Give ``transform`` (an image op or a whole :data:`Transform`) its batched form
    ``batch`` (see :class:`BatchedTransform`); returns ``transform``."""
    transform.batch = batch  # type: ignore[attr-defined]
    return transform


def batch_of(transform: Callable[..., Any]) -> BatchOp | None:
    """The batched form of ``transform`` (see :class:`BatchedTransform`), or ``None``."""
    return getattr(transform, "batch", None)


@dataclass(frozen=True)
class Preprocess:
    """How a detector turns a decoded RGB image into its input, on the CPU side.

    The transforms end in a uint8 tensor of shape ``(3, input_size, input_size)``; normalisation
    (``mean``/``std`` on the 0..1 scale) happens on the device.
    ``make_train(input_size, load_size)`` and ``make_eval(input_size, load_size)`` build the
    transforms for a given scale, so the engine can run a detector smaller than its paper's
    ``input_size`` (the mini dataset) without the recipe being edited.
    """

    input_size: int
    load_size: int | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    make_train: Callable[[int, int | None], Transform]
    make_eval: Callable[[int, int | None], Transform]
    description: str = ""
    #: whether the model takes inputs of any size (global pooling, no fixed-size layers): then
    #: ``--eval-transform native`` evaluates images at their own resolution
    any_size: bool = False
    #: normalise as torchvision's ``ToTensor`` + ``Normalize`` do, ``(u / 255 − mean) / std``,
    #: rather than ``(u − 255·mean) / (255·std)`` (see :class:`gibench.engine.device.Normalizer`):
    #: for detectors whose authors' inputs came from torchvision and whose model is sensitive to
    #: their last bit
    unit_first: bool = False


@dataclass(frozen=True)
class DetectorSpec:
    """A detector: its architecture, preprocessing, recipe and checkpoint formats.

    ``build(pretrained=None, input_size=...)`` returns an ``nn.Module`` mapping a normalised
    float batch ``(N, 3, H, W)`` to one logit per image (positive = generated). ``pretrained``
    is ``None`` (random init), ``"imagenet"`` (the backbone's published weights; may download)
    or a path to a local backbone state dict.
    ``convert_state_dict(obj)`` maps whatever a checkpoint file holds (our own layout or the one
    the original authors released) to this module's state dict.
    """

    name: str
    paper: str
    build: Callable[..., torch.nn.Module]
    preprocess: Preprocess
    recipe: Recipe
    convert_state_dict: Callable[[Mapping[str, Any]], dict[str, torch.Tensor]]
    aliases: tuple[str, ...] = ()
    description: str = ""
    mini_notes: str = ""
    #: The number of parameters at ``preprocess.input_size``, declared so that listing the
    #: detectors (``gibench list``) need not build them (nor import their libraries);
    #: :func:`gibench.testing.check_detector` checks it against the built model. ``None``:
    #: counted when asked (:meth:`parameter_count`).
    parameters: int | None = None
    #: The year the paper was published (``gibench list detectors`` shows it; ``None``:
    #: unknown, shown as ``-``). :func:`gibench.testing.check_detector` checks that the
    #: ``paper`` citation names the same year.
    year: int | None = None
    #: Where the paper was published, as the field abbreviates it (``CVPR``, ``ICML``,
    #: ``KDD``, ``arXiv`` for a preprint); ``""``: unknown. Given with :attr:`year`.
    venue: str = ""

    def parameter_count(self, input_size: int | None = None, *, declared: bool = True) -> int:
        """The number of parameters of the model built at ``input_size`` (default: the
        paper's): the declared :attr:`parameters` at that size when ``declared``, otherwise
        counted without allocating them, on PyTorch's ``meta`` device (tensors with shapes and
        no storage). A builder that cannot run there (it computes with real values while
        building) is built on the CPU instead."""
        import torch

        size = input_size or self.preprocess.input_size
        if declared and self.parameters is not None and size == self.preprocess.input_size:
            return self.parameters
        try:
            with torch.device("meta"):
                model = self.build(pretrained=None, input_size=size)
        except (RuntimeError, NotImplementedError, TypeError, ValueError):
            model = self.build(pretrained=None, input_size=size)
        return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class DegradationSpec:
    """A parameterised image corruption.

    ``apply(batch, strength, seeds)`` degrades a uint8 batch ``(N, 3, H, W)`` on its device
    (``seeds`` holds one int64 per sample, derived from the base seed and the sample index).
    ``reference(image, strength, seed)`` is the CPU implementation (PIL / libjpeg) that tests
    compare ``apply`` against.
    ``parameter`` names the strength (``quality``, ``sigma``...); ``paper_settings`` are the
    strengths the paper reports; ``sweep`` the strengths a robustness sweep uses, in the order
    a table shows them; ``default`` the strength a bare name means (``jpeg`` for ``jpeg:65``),
    or ``None`` when a strength must be given.
    """

    name: str
    description: str
    apply: Callable[..., torch.Tensor]
    reference: Callable[..., Image.Image]
    parameter: str = "strength"
    paper_settings: tuple[float, ...] = ()
    aliases: tuple[str, ...] = ()
    sweep: tuple[float, ...] = ()
    default: float | None = None


@dataclass(frozen=True)
class SuiteSpec:
    """A protocol: which models to train and which evaluations to run, and how to tabulate them.

    ``run(ctx)`` receives a :class:`gibench.suite.SuiteContext` — the documented suite API:
    subsets, models trained or loaded, evaluations, result rows, extra files — and returns
    nothing (the evaluations it asks for are recorded by the engine).
    ``render(results, subsets)`` turns the suite's results DataFrame (``results.csv``) into
    Markdown; ``subsets`` are the registry's subset specs (for display names and the column
    order).
    """

    name: str
    description: str
    run: Callable[[SuiteContext], None]
    render: Callable[[pd.DataFrame, Sequence[SubsetSpec]], str]
    needs_training: bool = True
    aliases: tuple[str, ...] = ()
    #: qualified training subsets (``DATASET/NAME``) this protocol trains on by default in a run
    #: given several datasets' roots, the first whose dataset is among them (``cross-dataset``:
    #: GenImage SD V1.4); otherwise the run's training dataset decides, as always
    default_train_subsets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReporterSpec:
    """A reporter a run can ask for with ``--report NAME`` (a TensorBoard or W&B writer).

    The reporting is done by the providing plugin's run-lifecycle hooks
    (:mod:`gibench.hookspecs`) for the runs whose ``config["report"]`` names it; the spec lets
    the run check the name and the packages the reporter needs before it starts.
    """

    name: str
    description: str
    #: Python modules the reporter imports (checked, not imported, before the run starts)
    requires: tuple[str, ...] = ()
    #: what to install when one is missing (``pip install tensorboard``)
    install: str = ""
    aliases: tuple[str, ...] = ()

    def missing(self) -> list[str]:
        """The modules of :attr:`requires` that are not installed."""
        import importlib.util

        return [m for m in self.requires if importlib.util.find_spec(m) is None]
