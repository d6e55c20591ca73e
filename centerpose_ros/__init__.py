"""ROS 2 layer of centerpose: the pose node over centerpose_core's Predictor.

Thin by design: all model work goes through centerpose_core.runtime.Predictor. Four kinds of module,
each allowed to import only the kinds below it (tests/core/test_layering.py checks this):

- the node and its wiring, here at the top: `node`, `lifecycle_node`, `entrypoint`, `pipeline`
  (mailbox + worker + the ordered step list), `model_loader`, `latest_frame`, `stats`, and the
  settings every layer reads, `params` and `qos`;
- `steps/`: the per-frame jobs after inference (tracking, the 2D outputs, depth/3D); a step sees the
  pipeline only through `steps.frame_step.StepHost`;
- `conversions/`: ROS messages <-> arrays and results (images, depth, PersonPoseArray, 3D);
- `demo/`: `make demo` and its player, recorder and loopback-DDS environment (never loaded by the node).
"""
