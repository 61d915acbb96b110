"""Every registered plugin's specs keep the contract (gibench.testing), parametrised over the
registry: the built-in plugins, the baselines and any installed one. Each detector's own
faithfulness tests (its authors' layouts and preprocessing) stay in its test module.

By default the detectors are built and run at the mini size (64 px) and checked at their
paper's size on the meta device (shapes, no arithmetic): GramNet at 512 px and F3Net at 299 px
take seconds per forward pass on a CPU. The slow test runs them at full size too.
"""

from __future__ import annotations

import dataclasses

import pytest

from gibench.registry import get_registry
from gibench.testing import (
    ContractError,
    check_degradation,
    check_detector,
    check_subset,
    check_suite,
)


def _names(kind: str) -> list[str]:
    return sorted(get_registry().entries.get(kind, {}))


@pytest.mark.parametrize("name", _names("detector"))
def test_detector_keeps_the_contract(name):
    check_detector(get_registry().detector(name), full_size=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", _names("detector"))
def test_detector_keeps_the_contract_at_full_size(name):
    check_detector(get_registry().detector(name))


@pytest.mark.parametrize("name", _names("subset"))
def test_subset_keeps_the_contract(name):
    check_subset(get_registry().subset(name))


@pytest.mark.parametrize("name", _names("degradation"))
def test_degradation_keeps_the_contract(name):
    check_degradation(get_registry().degradation(name))


@pytest.mark.parametrize("name", _names("suite"))
def test_suite_keeps_the_contract(name):
    check_suite(get_registry().suite(name))


@pytest.mark.parametrize(("year", "venue", "broken"), [
    (2019, "CVPR", "does not appear in the paper citation"),  # cnnspot's paper is of 2020
    (2020, "", "give both"),
    (None, "CVPR", "give both"),
    (1850, "CVPR", "is not a year"),
    (2020, "CVPR|ECCV", "one line of text"),
])
def test_detector_citation_year_and_venue_are_checked(year, venue, broken):
    spec = dataclasses.replace(get_registry().detector("cnnspot"), year=year, venue=venue)
    with pytest.raises(ContractError, match=broken):
        check_detector(spec)


def test_every_baseline_names_the_year_and_venue_its_citation_gives():
    reg = get_registry()
    baselines = [n for n in _names("detector")
                 if reg.provider("detector", n).distribution == "gibench-baselines"]
    assert len(baselines) >= 7
    for name in baselines:
        spec = reg.detector(name)
        assert spec.year is not None and spec.paper.endswith(f"{spec.venue} {spec.year}"), name
