"""A constant-velocity Kalman filter over person boxes, batched over tracks, in seconds.

State per track: `cx, cy, w, h` (box centre and size, pixels) and their velocities (pixels per
second). Time enters only through `dt`, so a dropped frame is a longer prediction, not a lost
track. The noise model is ByteTrack's (noise proportional to the box height, so near and far
persons behave alike) rewritten per second: at 30 frames/s it equals ByteTrack's per-frame values
(position 1/20 h, velocity 1/160 h per frame), at other rates it scales with the elapsed time.

Why not a library: filterpy is unmaintained, and the per-track objects of general filters cost
tens of microseconds each; these few array expressions update all tracks at once.
"""

from __future__ import annotations

import numpy as np

STATE_DIM, MEASUREMENT_DIM = 8, 4
# Process noise densities (per sqrt(second), in units of the box height).
POSITION_NOISE = 0.27  # = sqrt(30) / 20: ByteTrack's h/20 per frame at 30 frames/s
VELOCITY_NOISE = 1.0  # ~ 30 * sqrt(30) / 160: ByteTrack's h/160 px/frame per frame, in px/s
MEASUREMENT_NOISE = 1.0 / 20.0  # detector box noise, ByteTrack's
INITIAL_VELOCITY_STD = 1.0  # a walking person moves up to about one body height per second
MIN_SIZE = 1.0  # pixels: keeps the noise of degenerate (point) boxes positive


def box_to_measurement(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) `x_min, y_min, x_max, y_max` -> (N, 4) `cx, cy, w, h`."""
    return np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2.0, boxes[:, 2:] - boxes[:, :2]], axis=1)


def state_to_box(means: np.ndarray) -> np.ndarray:
    """(N, 8) states -> (N, 4) `x_min, y_min, x_max, y_max` (sizes clipped at 0)."""
    half = np.clip(means[:, 2:4], 0, None) / 2.0
    return np.concatenate([means[:, :2] - half, means[:, :2] + half], axis=1)


def _height(means: np.ndarray) -> np.ndarray:
    return np.maximum(means[:, 3], MIN_SIZE)


def initiate(measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """States for new tracks from (N, 4) `cx, cy, w, h`: zero velocity, wide velocity spread."""
    n = len(measurements)
    means = np.zeros((n, STATE_DIM))
    means[:, :4] = measurements
    h = _height(means)
    stds = np.empty((n, STATE_DIM))
    stds[:, :4] = 2.0 * MEASUREMENT_NOISE * h[:, None]
    stds[:, 4:] = INITIAL_VELOCITY_STD * h[:, None]
    covariances = np.zeros((n, STATE_DIM, STATE_DIM))
    covariances[:, np.arange(STATE_DIM), np.arange(STATE_DIM)] = stds**2
    return means, covariances


def predict(means: np.ndarray, covariances: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Advance (N, 8) states and (N, 8, 8) covariances by `dt` seconds (returns new arrays)."""
    transition = np.eye(STATE_DIM)
    transition[:4, 4:] = dt * np.eye(4)
    means = means @ transition.T
    h = _height(means)
    noise = np.empty((len(means), STATE_DIM))
    noise[:, :4] = (POSITION_NOISE * h[:, None]) ** 2 * dt
    noise[:, 4:] = (VELOCITY_NOISE * h[:, None]) ** 2 * dt
    covariances = transition @ covariances @ transition.T
    covariances[:, np.arange(STATE_DIM), np.arange(STATE_DIM)] += noise
    return means, covariances


def update(
    means: np.ndarray, covariances: np.ndarray, measurements: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Correct (N, 8) states with (N, 4) `cx, cy, w, h` measurements (returns new arrays)."""
    h = _height(means)
    innovation_cov = covariances[:, :4, :4] + np.eye(4)[None] * ((MEASUREMENT_NOISE * h) ** 2)[:, None, None]
    # K^T = S^-1 H P, with H selecting the first four state components (S is symmetric).
    gain_t = np.linalg.solve(innovation_cov, covariances[:, :4, :])
    residual = measurements - means[:, :4]
    means = means + np.einsum("nij,ni->nj", gain_t, residual)
    covariances = covariances - covariances[:, :, :4] @ gain_t
    covariances = 0.5 * (covariances + covariances.transpose(0, 2, 1))
    return means, covariances


def warp(means: np.ndarray, covariances: np.ndarray, homography: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move (N, 8) states and (N, 8, 8) covariances by a camera motion (returns new arrays).

    homography: (3, 3) mapping the previous frame's pixels to this frame's (an affine warp has
    last row 0, 0, 1). A box centre goes through the exact mapping; velocities and covariances
    through its local linearisation J at that centre (exact for an affine warp); sizes scale by
    sqrt(|det J|), since a box stays axis-aligned. BoT-SORT's global motion compensation does the
    same with one affine warp for every track.
    """
    if not len(means):
        return means.copy(), covariances.copy()
    centre = np.concatenate([means[:, :2], np.ones((len(means), 1))], axis=1) @ homography.T
    depth = centre[:, 2:3]
    moved = centre[:, :2] / depth
    # d(moved)/d(centre): (A - moved * h_row) / depth, with A the top-left 2x2, h_row the last row's first two
    jacobian = (homography[None, :2, :2] - moved[:, :, None] * homography[None, 2:3, :2]) / depth[:, :, None]
    scale = np.sqrt(np.abs(np.linalg.det(jacobian)))
    transform = np.zeros((len(means), STATE_DIM, STATE_DIM))
    transform[:, 0:2, 0:2] = jacobian
    transform[:, 4:6, 4:6] = jacobian
    for i in (2, 3, 6, 7):
        transform[:, i, i] = scale
    new_means = np.einsum("nij,nj->ni", transform, means)
    new_means[:, :2] = moved
    new_covariances = transform @ covariances @ transform.transpose(0, 2, 1)
    return new_means, new_covariances
