"""ROS 2 layer of centerpose: the pose node, image conversion and result messages.

Thin by design: all model work goes through centerpose_core.runtime.Predictor.
"""
