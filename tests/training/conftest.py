"""Fixtures of the training tests: tiny synthetic COCO-format sets (learnable at 64x64 in seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from centerpose_core.data.synthetic import SyntheticConfig, write_synthetic_dataset

# One large figure per 64x64 image on a fixed grey background: the easiest set to memorise quickly.
EASY = SyntheticConfig(
    image_size=(64, 64),
    persons=(1, 1),
    height_fraction=(0.75, 0.95),
    background="fixed",
    allow_outside=False,
    pose_jitter=0.5,
)


@pytest.fixture(scope="session")
def easy_set(tmp_path_factory) -> tuple[Path, Path]:
    """4 images, one figure each: (annotation json, image folder)."""
    root = tmp_path_factory.mktemp("easy_set")
    ann = write_synthetic_dataset(root, 4, EASY, seed=1)
    return ann, root / "images"


@pytest.fixture(scope="session")
def small_set(tmp_path_factory) -> tuple[Path, Path]:
    """8 images with 1-2 figures each (for the distributed and resume runs)."""
    root = tmp_path_factory.mktemp("small_set")
    config = SyntheticConfig(
        image_size=(64, 64), persons=(1, 2), height_fraction=(0.6, 0.9), background="random"
    )
    ann = write_synthetic_dataset(root, 8, config, seed=2)
    return ann, root / "images"
