"""Drawing persons coloured by track id (the `--draw` video and the node's annotated image)."""

from __future__ import annotations

import itertools

import numpy as np
from tracking_helpers import person

from centerpose_core.types import Person
from centerpose_core.viz import draw_persons, id_colour


def test_id_colours_are_stable_distinct_and_grey_without_id():
    colours = [id_colour(i) for i in range(1, 21)]
    assert colours == [id_colour(i) for i in range(1, 21)]
    for a, b in itertools.combinations(colours, 2):
        assert np.abs(np.subtract(a, b)).max() >= 20, (a, b)
    grey = id_colour(-1)
    assert grey[0] == grey[1] == grey[2]


def test_boxes_are_drawn_in_their_id_colour():
    base = person((20, 20, 80, 180))
    tracked = Person(base.score, base.bbox, base.keypoints, id=7)
    untracked = Person(base.score, base.bbox + np.float32(100), base.keypoints, id=-1)
    canvas = draw_persons(np.zeros((240, 320, 3), np.uint8), [tracked, untracked], colour_by_id=True)
    assert tuple(int(v) for v in canvas[100, 20]) == id_colour(7)  # left edge of the first box
    assert tuple(int(v) for v in canvas[200, 120]) == id_colour(-1)
    plain = draw_persons(np.zeros((240, 320, 3), np.uint8), [tracked])
    assert tuple(int(v) for v in plain[100, 20]) == (0, 255, 255)  # default look unchanged
