"""The node's per-frame steps: each gets the processed frame in order after inference.

A new output (a mask image, another message) is a `FrameStep` here; it creates its publishers and
subscriptions through the `StepHost` it is given (the pipeline), and converts with `conversions/`.
"""
