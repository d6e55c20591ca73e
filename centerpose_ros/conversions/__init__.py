"""ROS message conversions: sensor_msgs images and depth <-> arrays, results <-> centerpose_msgs and
RViz markers. Pure functions of messages and arrays: no node, no parameters."""
