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


@pytest.fixture(scope="session", autouse=True)
def private_export_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Exports made by `auto` (CLI default, node) go to a folder of this run, not the user's
    ~/.cache: a stale entry there must not decide a test, and tests must not fill it. Set in
    os.environ so CLI and node subprocesses inherit it; a test may still monkeypatch its own."""
    import os

    os.environ.setdefault("CENTERPOSE_CACHE", str(tmp_path_factory.mktemp("centerpose_cache")))
