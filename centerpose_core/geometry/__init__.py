"""3D from an aligned depth image: pinhole intrinsics, depth decoding, keypoint lifting (no ROS)."""

from centerpose_core.geometry.depth import DEPTH_ENCODINGS, DepthImage, decode_depth, window_depths
from centerpose_core.geometry.intrinsics import PinholeIntrinsics, colour_to_depth_pixels
from centerpose_core.geometry.lift import TORSO_JOINTS, DepthLiftConfig, Person3D, lift_arrays, lift_persons

__all__ = [
    "DEPTH_ENCODINGS",
    "TORSO_JOINTS",
    "DepthImage",
    "DepthLiftConfig",
    "Person3D",
    "PinholeIntrinsics",
    "colour_to_depth_pixels",
    "decode_depth",
    "lift_arrays",
    "lift_persons",
    "window_depths",
]
