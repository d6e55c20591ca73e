"""The constant-velocity filter: converges on exact motion, predicts by elapsed time, stays valid."""

from __future__ import annotations

import numpy as np

from centerpose_core.tracking import kalman


def _run(measure_every_s: float, duration_s: float, velocity: np.ndarray, start: np.ndarray):
    means, covs = kalman.initiate(start[None])
    t = 0.0
    while t < duration_s - 1e-9:
        means, covs = kalman.predict(means, covs, measure_every_s)
        t += measure_every_s
        means, covs = kalman.update(means, covs, (start + velocity * t)[None])
    return means, covs, t


def test_learns_a_constant_velocity_and_extrapolates_it_over_a_gap():
    start = np.array([100.0, 200.0, 50.0, 120.0])  # cx, cy, w, h
    velocity = np.array([120.0, -30.0, 0.0, 0.0])  # px/s
    means, covs, t = _run(0.1, 3.0, velocity, start)
    np.testing.assert_allclose(means[0, 4:], velocity, atol=1.0)
    ahead, _ = kalman.predict(means, covs, 0.5)
    np.testing.assert_allclose(ahead[0, :4], start + velocity * (t + 0.5), atol=1.5)


def test_one_long_prediction_moves_the_mean_like_several_short_ones():
    means, covs = kalman.initiate(np.array([[10.0, 20.0, 30.0, 60.0]]))
    means[0, 4:] = (5.0, -7.0, 1.0, 2.0)
    once, _ = kalman.predict(means, covs, 0.3)
    thrice = means
    for _ in range(3):
        thrice, covs = kalman.predict(thrice, covs, 0.1)
    np.testing.assert_allclose(once, thrice, rtol=1e-12, atol=1e-9)


def test_uncertainty_grows_with_elapsed_time():
    means, covs = kalman.initiate(np.array([[10.0, 20.0, 30.0, 60.0]]))
    _, short = kalman.predict(means, covs, 0.1)
    _, long = kalman.predict(means, covs, 1.0)
    assert (np.diag(long[0]) > np.diag(short[0])).all()


def test_covariances_stay_symmetric_positive_definite_even_for_point_boxes():
    rng = np.random.default_rng(0)
    boxes = np.array([[5.0, 5.0, 0.0, 0.0], [300.0, 200.0, 40.0, 100.0]])  # a point box, a person
    means, covs = kalman.initiate(boxes)
    for _ in range(200):
        means, covs = kalman.predict(means, covs, rng.uniform(0.0, 0.5))
        means, covs = kalman.update(means, covs, boxes + rng.normal(0, 1.0, boxes.shape) * [1, 1, 0, 0])
    assert np.isfinite(means).all()
    np.testing.assert_allclose(covs, covs.transpose(0, 2, 1))
    assert (np.linalg.eigvalsh(covs) > 0).all()


def test_box_conversions_round_trip():
    boxes = np.array([[10.0, 20.0, 50.0, 120.0], [0.0, 0.0, 0.0, 0.0]])
    measurement = kalman.box_to_measurement(boxes)
    np.testing.assert_allclose(measurement, [[30.0, 70.0, 40.0, 100.0], [0.0, 0.0, 0.0, 0.0]])
    state = np.zeros((2, 8))
    state[:, :4] = measurement
    np.testing.assert_allclose(kalman.state_to_box(state), boxes)
