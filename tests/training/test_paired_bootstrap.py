"""Paired bootstrap of the keypoint AP difference (`train.paired_bootstrap`) on a hand-made set."""

from __future__ import annotations

import numpy as np
import pytest

from centerpose_core.train.paired_bootstrap import paired_ap_bootstrap


def _dataset(images: int) -> tuple[dict, list[dict]]:
    """`images` images with one 100x200 px person each; and results that are exactly the truth."""
    rng = np.random.default_rng(3)
    data = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    perfect = []
    for i in range(1, images + 1):
        xy = rng.uniform([50, 50], [150, 250], size=(17, 2))
        kps = np.concatenate([xy, np.full((17, 1), 2.0)], axis=1).ravel().tolist()
        data["images"].append({"id": i, "file_name": f"{i}.png", "width": 300, "height": 300})
        data["annotations"].append(
            {
                "id": i,
                "image_id": i,
                "category_id": 1,
                "bbox": [50.0, 50.0, 100.0, 200.0],
                "area": 20000.0,
                "iscrowd": 0,
                "num_keypoints": 17,
                "keypoints": kps,
            }
        )
        perfect.append(
            {
                "image_id": i,
                "category_id": 1,
                "bbox": [50.0, 50.0, 100.0, 200.0],
                "score": 0.9,
                "keypoints": kps,
            }
        )
    return data, perfect


def test_identical_results_give_a_zero_interval():
    data, perfect = _dataset(6)
    assert paired_ap_bootstrap(data, perfect, perfect, rounds=20) == (0.0, 0.0)


def test_missing_persons_only_ever_lower_the_second_ap():
    """b misses the person of half the images: every resample scores a >= b, a difference that
    grows with the share of missed images drawn, so the interval lies in (0, 1] and is not a point."""
    data, perfect = _dataset(8)
    partial = [r for r in perfect if r["image_id"] % 2]
    low, high = paired_ap_bootstrap(data, perfect, partial, rounds=60, seed=1)
    assert 0.0 < low < high <= 1.0
    assert paired_ap_bootstrap(data, perfect, partial, rounds=60, seed=1) == (low, high)  # seeded
    with pytest.raises(ValueError, match="rounds must be positive"):
        paired_ap_bootstrap(data, perfect, partial, rounds=0)
