"""The recorded Python API of six real TensorRT releases (../shared/data/tensorrt_api/<version>.json).

Each file holds what the real bindings expose: `module` (top-level names), `classes` (members of
every class), `enums` (member -> int value) and `signatures`. The fake TensorRT modules are built
from these, and `test_tensorrt_api_surface` checks every name our code uses against them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

SURFACE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tensorrt_api"
RELEASES = ("8.6.1", "10.0.1", "10.3.0", "10.13.3.9", "11.0.0.114", "11.4.0.106")


@dataclass(frozen=True)
class Surface:
    """One release's names."""

    version: str
    module: frozenset[str]
    classes: dict[str, frozenset[str]]
    enums: dict[str, dict[str, int]]

    def has(self, dotted: str) -> bool:
        """Whether `X` (module level) or `X.Y` (class or enum member) exists in this release."""
        owner, _, member = dotted.partition(".")
        if not member:
            return owner in self.module
        if owner in self.enums and member in self.enums[owner]:
            return True
        return member in self.classes.get(owner, ())


def release_for(version: str) -> str:
    """The recorded release a version string names: itself, or the one it is a prefix of ('11.0.0')."""
    for release in RELEASES:
        if release == version or release.startswith(version + "."):
            return release
    raise ValueError(f"no recorded TensorRT API surface for {version!r} (recorded: {', '.join(RELEASES)})")


@functools.cache
def load_surface(version: str) -> Surface:
    path = SURFACE_DIR / f"{release_for(version)}.json"
    if not path.is_file():
        pytest.skip(f"TensorRT API surfaces not found at {SURFACE_DIR} (only beside the project checkout)")
    data = json.loads(path.read_text())
    return Surface(
        version=data["version"],
        module=frozenset(data["module"]),
        classes={name: frozenset(members) for name, members in data["classes"].items()},
        enums={name: dict(members) for name, members in data["enums"].items()},
    )
