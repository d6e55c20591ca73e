"""DLA-34 + DCN CenterNet multi-pose model and its checkpoint I/O."""

from centerpose_core.model.pose_net import PoseNet, build_pose_net

__all__ = ["PoseNet", "build_pose_net"]
