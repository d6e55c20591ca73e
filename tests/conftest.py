"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (real COCO/OCHuman images); skip when a clone lacks it."""
    if not (SHARED_DATA / "coco_mini" / "annotations" / "person_keypoints_mini.json").is_file():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (only present beside the project checkout)")
    return SHARED_DATA
