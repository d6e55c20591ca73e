"""Training augmentation of CenterNet's multi-pose sample (`datasets/sample/multi_pose.py`, `utils/image.py`).

Geometry: either a random crop (scale 0.6..1.3 of the longer side, center drawn at least
`border` pixels from the image edges) or a gaussian scale/shift; an optional rotation; a
horizontal flip. Colour: brightness, contrast and saturation jitter in random order, then PCA
lighting with the COCO eigenvalues/vectors. Every random draw comes from the `numpy.random.Generator`
passed in, so one seed reproduces one sample whatever process or worker draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from centerpose_core.affine import image_center_scale

# PCA of COCO pixel colours used by CenterNet's lighting noise (its `_eig_val`, `_eig_vec`).
COCO_EIG_VAL = np.array([0.2141788, 0.01817699, 0.00341571], dtype=np.float32)
COCO_EIG_VEC = np.array(
    [
        [-0.58752847, -0.69563484, 0.41340352],
        [-0.5832747, 0.00994535, -0.81221408],
        [-0.56089297, 0.71832671, 0.41158938],
    ],
    dtype=np.float32,
)
# Crop scale factors of the original: np.arange(0.6, 1.4, 0.1) -> 0.6, 0.7, ..., 1.3.
CROP_SCALES = np.arange(0.6, 1.4, 0.1)
CROP_BORDER = 128


@dataclass(frozen=True)
class AugmentConfig:
    """The original's augmentation options, with its multi-pose defaults (training only).

    The field help texts are also the training script's flag help (`--augment.<field>`).
    """

    rand_crop: bool = field(
        default=True, metadata={"help": "random crop (the original's default) instead of scale/shift"}
    )
    scale: float = field(
        default=0.4, metadata={"help": "scale sigma of the scale/shift variant (the original's --scale)"}
    )
    shift: float = field(
        default=0.1, metadata={"help": "shift sigma of the scale/shift variant (the original's --shift)"}
    )
    rotate_prob: float = field(
        default=0.0, metadata={"help": "probability of a random rotation (the original's --aug_rot)"}
    )
    rotate: float = field(
        default=0.0, metadata={"help": "rotation sigma in degrees (the original's --rotate)"}
    )
    flip: float = field(default=0.5, metadata={"help": "horizontal flip probability (the original's --flip)"})
    color: bool = field(
        default=True, metadata={"help": "colour jitter + PCA lighting (off: the original's --no_color_aug)"}
    )


@dataclass(frozen=True)
class Geometry:
    """Where a training sample comes from: the warp's center/scale/rotation and whether it is mirrored."""

    center: np.ndarray  # (2,) float32, in the (possibly mirrored) source image
    scale: float
    rotation: float
    flipped: bool


def crop_border(border: int, size: int) -> int:
    """Halve `border` until it leaves room for a center inside `size` (the original's `_get_border`)."""
    i = 1
    while size - border // i <= border // i:
        i *= 2
    return border // i


def sample_geometry(rng: np.random.Generator, height: int, width: int, config: AugmentConfig) -> Geometry:
    """Draw the random crop/scale, rotation and flip of one training sample, in the original's order."""
    center, scale = image_center_scale(height, width)  # start from the test-time warp, as the original
    rotation = 0.0
    if config.rand_crop:
        scale = scale * float(rng.choice(CROP_SCALES))
        w_border = crop_border(CROP_BORDER, width)
        h_border = crop_border(CROP_BORDER, height)
        center[0] = rng.integers(w_border, width - w_border)
        center[1] = rng.integers(h_border, height - h_border)
    else:
        sf, cf = config.scale, config.shift
        center[0] += scale * np.clip(rng.standard_normal() * cf, -2 * cf, 2 * cf)
        center[1] += scale * np.clip(rng.standard_normal() * cf, -2 * cf, 2 * cf)
        scale = scale * float(np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf))
    if rng.random() < config.rotate_prob:
        rf = config.rotate
        rotation = float(np.clip(rng.standard_normal() * rf, -rf * 2, rf * 2))
    flipped = bool(rng.random() < config.flip)
    if flipped:
        center[0] = width - center[0] - 1
    return Geometry(center=center, scale=scale, rotation=rotation, flipped=flipped)


def _blend(alpha: float, image: np.ndarray, other: np.ndarray | float) -> None:
    image *= alpha
    image += (1 - alpha) * other


def color_augment(
    rng: np.random.Generator, image: np.ndarray, var: float = 0.4, light_std: float = 0.1
) -> None:
    """Jitter a float32 BGR image in [0, 1] in place, as the original's `color_aug`.

    Brightness, contrast and saturation (each by a factor 1 + U(-0.4, 0.4)) are applied in a
    random order, then the PCA lighting noise with sigma 0.1.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gray_mean = float(gray.mean())

    def brightness() -> None:
        np.multiply(image, np.float32(1.0 + rng.uniform(-var, var)), out=image)

    def contrast() -> None:
        _blend(np.float32(1.0 + rng.uniform(-var, var)), image, np.float32(gray_mean))

    def saturation() -> None:
        _blend(np.float32(1.0 + rng.uniform(-var, var)), image, gray[:, :, None])

    steps = (brightness, contrast, saturation)
    for i in rng.permutation(3):
        steps[i]()
    alpha = rng.normal(scale=light_std, size=(3,)).astype(np.float32)
    image += COCO_EIG_VEC @ (COCO_EIG_VAL * alpha)
