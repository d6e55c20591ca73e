"""Camera motion between consecutive frames, for the tracker's motion compensation.

When the camera pans (a robot turning its head or base), every person shifts in the image at once;
a tracker that predicts each person from its own past motion misses them all. `PoseTracker.update`
takes the frame-to-frame warp and moves every track by it before matching (BoT-SORT's global
motion compensation). Two sources:

- `CameraMotionEstimator`: from the images themselves, with OpenCV: corners of the background
  (person boxes masked out) on a downscaled grey frame, followed by pyramidal Lucas-Kanade optical
  flow into the next frame, and a RANSAC fit of a similarity transform (rotation, uniform scale,
  translation), as BoT-SORT's sparse optical flow method does.
- `rotation_homography`: from the camera's rotation (an IMU's angular velocity times the frame
  interval): a camera that only rotates maps pixels by `K R^T K^-1`, whatever the scene depth.
"""

from __future__ import annotations

import cv2
import numpy as np


def as_homography(camera_motion: object) -> np.ndarray:
    """A (2, 3) affine or (3, 3) homography as a float (3, 3) array; ValueError names a bad one."""
    warp = np.asarray(camera_motion, dtype=np.float64)
    if warp.shape not in ((2, 3), (3, 3)):
        raise ValueError(f"tracking camera_motion must have shape (2, 3) or (3, 3), got {warp.shape}")
    if not np.isfinite(warp).all():
        raise ValueError("tracking camera_motion has non-finite values")
    if warp.shape == (2, 3):
        warp = np.vstack([warp, (0.0, 0.0, 1.0)])
    if abs(np.linalg.det(warp)) < 1e-9 or abs(warp[2, 2]) < 1e-12:
        raise ValueError(f"tracking camera_motion is singular: {warp.tolist()}")
    return warp / warp[2, 2]


def rotation_homography(camera_matrix: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(3, 3) pixel warp from the previous frame to this one when the camera turns by `rotation`.

    camera_matrix: (3, 3) intrinsics K (sensor_msgs/CameraInfo's `k`).
    rotation: (3, 3) this frame's camera orientation in the previous frame's camera axes (optical
        frame: x right, y down, z forward). A point fixed in the world has camera coordinates
        R^T p afterwards, so its pixel moves by H = K R^T K^-1.
    """
    k = np.asarray(camera_matrix, dtype=np.float64)
    h = k @ np.asarray(rotation, dtype=np.float64).T @ np.linalg.inv(k)
    return h / h[2, 2]


def rotation_from_angular_velocity(angular_velocity: np.ndarray, dt: float) -> np.ndarray:
    """(3, 3) rotation after turning at a constant `angular_velocity` (rad/s, 3 axes) for `dt` s."""
    rotation, _ = cv2.Rodrigues(np.asarray(angular_velocity, dtype=np.float64).reshape(3, 1) * dt)
    return rotation


class CameraMotionEstimator:
    """Estimates each frame's warp from the previous frame's (call once per frame, in order).

    working_width: frames are downscaled to this width (pixels) first: the cost falls with the
        area, and a pan of tens of pixels is still a few pixels there.
    max_corners: background corners tracked per frame.
    """

    def __init__(self, working_width: int = 256, max_corners: int = 80) -> None:
        if working_width < 32 or max_corners < 4:
            raise ValueError(
                f"CameraMotionEstimator needs working_width >= 32 and max_corners >= 4, "
                f"got {working_width} and {max_corners}"
            )
        self.working_width = working_width
        self.max_corners = max_corners
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (the next estimate is the identity)."""
        self._previous: np.ndarray | None = None
        self._corners: np.ndarray | None = None
        self._scale = 1.0

    def estimate(self, image: np.ndarray, person_boxes: np.ndarray | None = None) -> np.ndarray:
        """(2, 3) affine warp from the previous frame's pixels to `image`'s (identity if unknown).

        image: (H, W) grey or (H, W, 3) BGR uint8. person_boxes: (N, 4) `x_min, y_min, x_max, y_max`
        in `image` pixels, left out of the estimate (people move on their own). The identity is
        returned for the first frame, after a change of image size, and when too few background
        corners are found or followed.
        """
        grey, scale = self._prepare(image)
        if self._previous is not None and self._previous.shape != grey.shape:
            self.reset()
        warp = np.eye(2, 3)
        if self._previous is not None and self._corners is not None and len(self._corners) >= 4:
            found = self._follow(grey)
            if found is not None:
                warp = found
                warp[:, 2] /= scale  # translation back to full-resolution pixels
        self._previous, self._scale = grey, scale
        self._corners = cv2.goodFeaturesToTrack(
            grey,
            maxCorners=self.max_corners,
            qualityLevel=0.01,
            minDistance=max(3.0, grey.shape[1] / 60),
            blockSize=3,
            mask=self._background_mask(grey.shape, person_boxes, scale),
        )
        return warp

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise ValueError(
                f"camera motion image must be (H, W) or (H, W, 3) uint8, got {image.shape} {image.dtype}"
            )
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        scale = min(1.0, self.working_width / grey.shape[1])
        if scale < 1.0:
            size = (self.working_width, max(1, round(grey.shape[0] * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey, scale

    def _background_mask(self, shape: tuple[int, int], boxes: np.ndarray | None, scale: float) -> np.ndarray:
        mask = np.full(shape, 255, np.uint8)
        if boxes is None or not len(boxes):
            return mask
        corners = np.round(np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * scale).astype(np.int64)
        height, width = shape
        for x1, y1, x2, y2 in corners:
            x1, x2 = sorted((int(np.clip(x1, 0, width)), int(np.clip(x2, 0, width))))
            y1, y2 = sorted((int(np.clip(y1, 0, height)), int(np.clip(y2, 0, height))))
            mask[y1:y2, x1:x2] = 0
        return mask

    def _follow(self, grey: np.ndarray) -> np.ndarray | None:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            self._previous, grey, self._corners, None, winSize=(15, 15), maxLevel=3
        )
        ok = status.reshape(-1) == 1
        if ok.sum() < 4:
            return None
        warp, inliers = cv2.estimateAffinePartial2D(
            self._corners[ok], moved[ok], method=cv2.RANSAC, ransacReprojThreshold=1.5
        )
        if warp is None or inliers is None or inliers.sum() < 4:
            return None
        return warp
