"""Name resolution, property-based: every registered name and alias survives any change of case
and of its separators, and a name that matches nothing says how to list the known ones."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gibench.registry import UnknownNameError, get_registry, normalise

KINDS = ("subset", "detector", "degradation", "suite")
LISTING = {"subset": "subsets", "detector": "detectors", "degradation": "degradations",
           "suite": "suites"}


def spellings(kind: str) -> list[tuple[str, str, str | None]]:
    """``(name or alias, canonical name, scope)`` for everything registered for ``kind``; a
    subset's scope is its dataset (several datasets may have subsets of one name)."""
    return [(name, spec.name, getattr(spec, "dataset", None) if kind == "subset" else None)
            for spec in get_registry().all(kind)
            for name in (spec.name, *getattr(spec, "aliases", ()))]


def respell(name: str, rng: random.Random) -> str:
    """``name`` with each letter's case drawn at random, each run of separators (``-``, ``_``,
    spaces) replaced by a random run of them or dropped, and whitespace around it."""
    cased = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
    parts = re.split(r"[\s_\-]+", cased)
    out = parts[0]
    for part in parts[1:]:
        out += "".join(rng.choice(" _-\t") for _ in range(rng.randint(0, 3))) + part
    return " " * rng.randint(0, 2) + out + rng.choice(["", " ", "\n"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_every_name_and_alias_resolves_whatever_its_case_and_separators(seed):
    rng = random.Random(seed)  # one respelling of every name per example
    registry = get_registry()
    for kind in KINDS:
        for name, canonical, scope in spellings(kind):
            spelled = respell(name, rng)
            assert registry.resolve(kind, spelled, scope) == canonical, (kind, name, spelled)
            assert registry.has(kind, spelled)


@settings(max_examples=50, deadline=None)
@given(kind=st.sampled_from(KINDS), name=st.text(max_size=30))
def test_a_name_that_matches_nothing_raises_naming_the_list_command(kind, name):
    registry = get_registry()
    known = {normalise(n) for n, _, _ in spellings(kind)}
    if normalise(name) in known:  # rare: hypothesis found a real name
        assert registry.has(kind, name)
        return
    try:
        registry.resolve(kind, name)
    except UnknownNameError as exc:
        assert f"`gibench list {LISTING[kind]}`" in str(exc)
        assert exc.kind == kind and exc.name == name
        assert repr(name) in str(exc)
    else:
        raise AssertionError(f"{kind} {name!r} resolved though it normalises to no known name")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_misspelt_name_suggests_only_registered_names(seed):
    rng = random.Random(seed)
    registry = get_registry()
    for kind in ("subset", "detector"):
        names = sorted({canonical for _, canonical, _ in spellings(kind)})
        name = rng.choice(names)
        i = rng.randrange(len(name))
        typo = name[:i] + name[i + 1:] + "q"  # one letter lost, one stray
        if registry.has(kind, typo):
            continue
        try:
            registry.resolve(kind, typo)
        except UnknownNameError as exc:
            message = str(exc)
            if "Did you mean: " in message:
                hint = message.split("Did you mean: ", 1)[1].split("?", 1)[0]
                assert set(hint.split(", ")) <= set(names), message
        else:
            raise AssertionError(f"{typo!r} resolved")
