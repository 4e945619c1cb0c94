"""The dependency floors of pyproject.toml are what `make test-floors` installs and tests."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_has_a_floor_and_the_floors_check_pins_it():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        match = re.fullmatch(r"([\w.-]+)>=([\w.]+)", requirement)
        assert match, f"{requirement!r} has no floor (name>=version)"
        floors[normalized(match[1])] = match[2]
    lines = (REPO / ".ci" / "floors.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line.strip() and not line.startswith("#"))
    assert {normalized(name): version for name, version in pins.items()} == floors
