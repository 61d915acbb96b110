"""Every registered plugin's specs keep the contract (gibench.testing), parametrised over the
registry: the built-in plugins, the baselines and any installed one. Each detector's own
faithfulness tests (its authors' layouts and preprocessing) stay in its test module.

By default the detectors are built and run at the mini size (64 px) and checked at their
paper's size on the meta device (shapes, no arithmetic): GramNet at 512 px and F3Net at 299 px
take seconds per forward pass on a CPU. The slow test runs them at full size too.
"""

from __future__ import annotations

import pytest

from gibench.registry import get_registry
from gibench.testing import check_degradation, check_detector, check_subset, check_suite


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
