"""The files `make demo` reads exist where the demo looks for them (its module moved once and
pointed at centerpose_ros/config/ instead of the repository's config/)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("centerpose_ros.demo.__main__", ("CLIP", "PARAMS_FILE")),
        ("centerpose_ros.demo.local_dds", ("LOOPBACK_PROFILE",)),
    ],
)
def test_demo_files_exist(module, names):
    loaded = importlib.import_module(module)
    for name in names:
        path = getattr(loaded, name)
        assert path.is_file(), f"{module}.{name} = {path} does not exist"
