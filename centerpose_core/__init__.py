"""centerpose_core: CenterNet multi-person pose estimation (DLA-34), free of ROS."""

__version__ = "0.1.0"
