"""Contract checks for plugin authors: does a spec keep the promises the engine relies on?

Call them from a plugin's tests, on its own specs, or on every registered one::

    import pytest
    from gibench.registry import get_registry
    from gibench.testing import check_detector

    @pytest.mark.parametrize("name", ["mydetector"])
    def test_mydetector_keeps_the_contract(name):
        check_detector(get_registry().detector(name))

Each check raises :class:`ContractError` (an ``AssertionError``, so pytest shows it as a failed
assertion) whose message names the spec and the broken promise. They check the contract only;
a detector's faithfulness to its paper (its authors' layouts, their preprocessing to the bit)
is for the plugin's own tests.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import numpy as np
import torch
from PIL import Image

from gibench.outputs import check_state
from gibench.specs import DegradationSpec, DetectorSpec, SubsetSpec, SuiteSpec, batch_of

#: The input and load size the engine runs every detector at on the embedded ``mini`` dataset
#: (:mod:`gibench.engine.config`).
MINI_SIZE, MINI_LOAD = 64, 72


class ContractError(AssertionError):
    """A spec breaks the contract of :mod:`gibench.specs`."""


def _expect(ok: Any, spec: Any, message: str) -> None:
    if not ok:
        kind = type(spec).__name__.removesuffix("Spec").lower()
        raise ContractError(f"{kind} {getattr(spec, 'name', spec)!r}: {message}")


def _image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))


def _photo(size: int, seed: int) -> Image.Image:
    """A smooth gradient with mild noise: closer to a photograph than uniform noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] * (200 / size)
    base = np.stack([xx, yy, (xx + yy) / 2], axis=-1) + 20
    return Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))


def _load_size(spec: DetectorSpec, size: int) -> int | None:
    pre = spec.preprocess
    if size == pre.input_size or pre.load_size is None:
        return pre.load_size
    return MINI_LOAD if size == MINI_SIZE else round(pre.load_size * size / pre.input_size)


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _check_transforms(spec: DetectorSpec, size: int) -> None:
    load = _load_size(spec, size)
    image = _image(size + 37, size + 11)  # not square, not the input size
    for which, make in (("train", spec.preprocess.make_train),
                        ("eval", spec.preprocess.make_eval)):
        transform = make(size, load)
        out = transform(image, random.Random(0))
        _expect(isinstance(out, torch.Tensor) and out.dtype == torch.uint8
                and tuple(out.shape) == (3, size, size), spec,
                f"the {which} transform at {size} px gives "
                f"{getattr(out, 'dtype', type(out).__name__)} {tuple(getattr(out, 'shape', ()))}"
                f", not uint8 (3, {size}, {size})")
        again = transform(image, random.Random(0))
        _expect(torch.equal(out, again), spec,
                f"the {which} transform at {size} px is not reproducible under one seed")
    evaluate = spec.preprocess.make_eval(size, load)
    batch = batch_of(evaluate)
    if batch is not None:
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].contiguous()
        batched = batch(x.repeat(2, 1, 1, 1))
        single = evaluate(image, random.Random(0))
        _expect(tuple(batched.shape) == (2, *single.shape) and batched.dtype == torch.uint8,
                spec, f"the eval transform's batched form at {size} px gives "
                f"{batched.dtype} {tuple(batched.shape)}, not uint8 {(2, *single.shape)}")
        diff = (batched[0].int() - single.int()).abs().float().mean().item()
        _expect(diff <= 1.0, spec, f"the eval transform's batched form at {size} px differs "
                f"from the per-image transform by {diff:.2f} grey levels on average")


def _check_forward(spec: DetectorSpec, model: torch.nn.Module, size: int, batch: int) -> None:
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    x = torch.randn(batch, 3, size, size, device=device)
    with torch.no_grad():
        out = model(x)
    _expect(isinstance(out, torch.Tensor) and out.numel() == batch
            and out.shape[0] == batch, spec,
            f"forward on ({batch}, 3, {size}, {size}) gives "
            f"{tuple(getattr(out, 'shape', ()))}, not one logit per image")
    if device.type != "meta":
        _expect(torch.isfinite(out).all().item(), spec,
                f"forward at {size} px gives non-finite logits")


def _check_backward(spec: DetectorSpec, model: torch.nn.Module, size: int, batch: int) -> None:
    model.train()
    model.zero_grad()
    model(torch.randn(batch, 3, size, size)).sum().backward()
    bad = [n for n, p in model.named_parameters() if p.requires_grad
           and (p.grad is None or not torch.isfinite(p.grad).all())]
    _expect(not bad, spec, f"training at {size} px leaves parameters without a finite "
            f"gradient: {', '.join(bad[:5])}")
    model.zero_grad()
    model.eval()


def _check_converter(spec: DetectorSpec, model: torch.nn.Module) -> None:
    own = model.state_dict()
    converted = spec.convert_state_dict(dict(own))
    try:
        check_state(own, converted, "(the model's own state dict)")
    except Exception as exc:
        raise ContractError(f"detector {spec.name!r}: convert_state_dict does not round-trip "
                            f"the model's own state dict: {exc}") from exc
    changed = [k for k in own if not torch.equal(own[k], converted[k])]
    _expect(not changed, spec, "convert_state_dict changes the model's own weights: "
            + ", ".join(changed[:5]))


def check_detector(spec: DetectorSpec, *, full_size: bool = True, batch: int = 2) -> None:
    """Check a detector at its paper's input size and at the ``mini`` size (64 px):

    - it builds (``pretrained=None``, no download), a forward pass on a small batch gives
      one finite logit per image, and a backward pass reaches every trainable parameter with
      a finite gradient;
    - its train and eval transforms give uint8 ``(3, S, S)``, reproducibly under one seed, and
      the eval transform's batched form (if any) agrees with the per-image one;
    - ``convert_state_dict`` maps the model's own state dict to itself;
    - the declared :attr:`~gibench.specs.DetectorSpec.parameters` (if any) and the count on
      the ``meta`` device equal the built model's;
    - ``year`` and ``venue`` are given together or not at all, the year is a plausible one and
      the ``paper`` citation names it, the venue is one line of text.

    ``full_size=False`` builds and runs real weights at the mini size only; at the paper's size
    the model is then built and run on the ``meta`` device (shapes, no arithmetic; a model
    using an op the meta device lacks is only built there): for the large models whose
    full-size forward takes seconds on a CPU.
    """
    _expect(isinstance(spec, DetectorSpec), spec, "is not a DetectorSpec")
    _check_citation(spec)
    full = spec.preprocess.input_size
    for size in dict.fromkeys((full, MINI_SIZE)):
        _check_transforms(spec, size)
        if size == full and not full_size:
            with torch.device("meta"):
                model = spec.build(pretrained=None, input_size=size)
            try:
                _check_forward(spec, model, size, batch)
            except (NotImplementedError, RuntimeError):
                pass  # an op the meta device lacks (autocast, .item()): checked at full_size
        else:
            torch.manual_seed(0)
            model = spec.build(pretrained=None, input_size=size)
            _check_forward(spec, model, size, batch)
            _check_backward(spec, model, size, batch)
            _check_converter(spec, model)
        count = _n_params(model)
        meta = spec.parameter_count(size, declared=False)
        _expect(meta == count, spec, f"{meta} parameters counted on the meta device at {size} "
                f"px, {count} built")
        if size == full and spec.parameters is not None:
            _expect(spec.parameters == count, spec, f"declares {spec.parameters} parameters, "
                    f"the model built at {size} px has {count}")


def _check_citation(spec: DetectorSpec) -> None:
    """``year`` and ``venue``: both or neither, a plausible year that ``paper`` names."""
    year, venue = spec.year, spec.venue
    _expect(isinstance(venue, str) and venue == venue.strip() and "\n" not in venue
            and "|" not in venue, spec, f"venue {venue!r} must be one line of text "
            "(e.g. 'CVPR'), without '|' or surrounding spaces")
    _expect((year is None) == (not venue), spec,
            f"year {year!r} and venue {venue!r}: give both (e.g. year=2024, venue='CVPR') or "
            "neither")
    if year is None:
        return
    this_year = datetime.date.today().year
    _expect(isinstance(year, int) and not isinstance(year, bool)
            and 1950 <= year <= this_year + 1, spec,
            f"year {year!r} is not a year from 1950 to {this_year + 1}")
    _expect(str(year) in spec.paper, spec,
            f"year {year} does not appear in the paper citation {spec.paper!r}")


def check_subset(spec: SubsetSpec) -> None:
    """Check a subset: a name, a display name, a dataset, candidate folders that are relative
    paths (under a data root), and aliases distinct from its name."""
    _expect(isinstance(spec, SubsetSpec), spec, "is not a SubsetSpec")
    for field_name in ("name", "display_name", "dataset", "family"):
        value = getattr(spec, field_name)
        _expect(isinstance(value, str) and value.strip(), spec, f"{field_name} is empty")
    _expect(spec.folders and all(isinstance(f, str) and f and not f.startswith("/")
                                 for f in spec.folders), spec,
            f"folders {spec.folders!r} must be relative paths under a data root")
    _expect(spec.name not in spec.aliases, spec, "an alias repeats the name")


def check_degradation(spec: DegradationSpec, *, size: int = 64) -> None:
    """Check a degradation at every strength it names (paper settings, sweep, default), on
    photograph-like images (smooth, mildly noisy):

    - ``apply`` maps a uint8 ``(N, 3, H, W)`` batch to a uint8 ``(N, 3, H', W')`` one (a
      resize may change the size), is reproducible under the same seeds and does not depend
      on the batch (sample i degraded alone equals sample i of the batch);
    - ``reference`` gives an image of the size ``apply`` gives;
    - the two agree on average within 8 grey levels (a loose bound: tests of the degradation
      itself pin it down).
    """
    _expect(isinstance(spec, DegradationSpec), spec, "is not a DegradationSpec")
    strengths = list(dict.fromkeys(
        (*spec.paper_settings, *spec.sweep, *(() if spec.default is None else (spec.default,)))))
    _expect(strengths, spec, "names no strength (paper_settings, sweep or default)")
    images = [_photo(size, seed) for seed in range(2)]
    batch = torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in images])
    seeds = torch.tensor([11, 12], dtype=torch.int64)
    for strength in strengths:
        out = spec.apply(batch.clone(), strength, seeds)
        _expect(out.dtype == torch.uint8 and out.dim() == 4 and out.shape[:2] == (2, 3), spec,
                f"apply at {strength:g} gives {out.dtype} {tuple(out.shape)}, not uint8 "
                "(2, 3, H, W)")
        _expect(torch.equal(out, spec.apply(batch.clone(), strength, seeds)), spec,
                f"apply at {strength:g} is not reproducible under the same seeds")
        alone = spec.apply(batch[1:].clone(), strength, seeds[1:])
        _expect(torch.equal(alone[0], out[1]), spec, f"apply at {strength:g} degrades a sample "
                "differently in another batch (derive randomness from its seed only)")
        ref = spec.reference(images[1], strength, int(seeds[1]))
        wanted = (out.shape[-1], out.shape[-2])
        _expect(isinstance(ref, Image.Image) and ref.size == wanted, spec,
                f"reference at {strength:g} gives {getattr(ref, 'size', type(ref).__name__)}, "
                f"not an image of size {wanted} as apply does")
        ref_t = torch.from_numpy(np.array(ref.convert("RGB"))).permute(2, 0, 1)
        diff = (ref_t.int() - out[1].int()).abs().float().mean().item()
        _expect(diff <= 8.0, spec, f"apply and reference at {strength:g} differ by {diff:.1f} "
                "grey levels on average")


def check_suite(spec: SuiteSpec) -> None:
    """Check a suite's declaration: a name, a description, and ``run``/``render`` callables
    (running a suite needs data and a detector: the engine's tests do that)."""
    _expect(isinstance(spec, SuiteSpec), spec, "is not a SuiteSpec")
    _expect(spec.name.strip() and spec.description.strip(), spec,
            "needs a name and a description")
    for field_name in ("run", "render"):
        _expect(callable(getattr(spec, field_name)), spec,
                f"{field_name} is not callable")
