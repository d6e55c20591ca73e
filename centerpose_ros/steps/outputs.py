"""The node's 2D outputs as per-frame steps: /pose/detections, /pose/markers, /pose/image_annotated,
and for a model with the mask branch /pose/masks.

Each publishes through a publisher the pipeline created for it (`StepHost.create_output`) and counts
what it sent in the node's statistics; markers and the annotated image are built only while enabled
and subscribed, since drawing costs more than the rest of the step list.
"""

from __future__ import annotations

import time
from typing import Any

from centerpose_core.masks import label_image
from centerpose_core.viz import draw_persons
from centerpose_ros.conversions.image import bgr_to_image_msg, mono8_to_image_msg
from centerpose_ros.conversions.messages import persons_to_markers, persons_to_msg
from centerpose_ros.stats import NodeStats
from centerpose_ros.steps.frame_step import FrameStep, ProcessedFrame

DETECTIONS_TOPIC, ANNOTATED_TOPIC, MARKERS_TOPIC, MASKS_TOPIC = (
    "/pose/detections",
    "/pose/image_annotated",
    "/pose/markers",
    "/pose/masks",
)


class OutputStep(FrameStep):
    """A step that publishes one of the node's outputs and counts it in the node's statistics."""

    def __init__(self, publisher: Any, stats: NodeStats) -> None:
        self._publisher, self._stats = publisher, stats


class DetectionsOutput(OutputStep):
    """/pose/detections for every processed frame (also when empty); records latency statistics."""

    name = "detections"

    def process(self, frame: ProcessedFrame) -> None:
        self._publisher.publish(persons_to_msg(frame.persons, frame.header))
        latency_ms = (time.monotonic() - frame.received) * 1e3
        self._stats.frame_processed(latency_ms, frame.inference_ms)
        frame.extras["latency_ms"] = latency_ms


class MarkersOutput(OutputStep):
    """/pose/markers (RViz), only while enabled and subscribed."""

    name = "markers"

    def process(self, frame: ProcessedFrame) -> None:
        if frame.params.publish_markers and self._publisher.get_subscription_count() > 0:
            params = frame.params
            markers = persons_to_markers(
                frame.persons, frame.header, params.keypoint_threshold, colour_by_id=params.tracking
            )
            self._publisher.publish(markers)
            self._stats.markers_published()


class AnnotatedOutput(OutputStep):
    """/pose/image_annotated (with the persons' masks, when they have them), drawn only while
    enabled and subscribed."""

    name = "annotated"

    def wanted(self, params: Any) -> bool:
        """Whether this frame's image will be drawn (the pipeline computes masks only when so)."""
        return bool(params.publish_annotated) and self._publisher.get_subscription_count() > 0

    def process(self, frame: ProcessedFrame) -> None:
        params = frame.params
        if self.wanted(params):
            drawn = draw_persons(
                frame.image,
                frame.persons,
                keypoint_threshold=params.keypoint_threshold,
                colour_by_id=params.tracking,
            )
            self._publisher.publish(bgr_to_image_msg(drawn, frame.header))
            self._stats.annotated_published()


class MasksOutput(OutputStep):
    """/pose/masks (mask models only): mono8, the source image's header and size, 0 = background,
    1 + i = the person at index i of the same frame's /pose/detections; where masks overlap the
    higher score wins. Published only while subscribed (the pipeline computes masks only then, or
    for the annotated image)."""

    name = "masks"

    def wanted(self, params: Any) -> bool:
        return self._publisher.get_subscription_count() > 0

    def process(self, frame: ProcessedFrame) -> None:
        if not self.wanted(frame.params):
            return
        height, width = frame.image.shape[:2]
        self._publisher.publish(mono8_to_image_msg(label_image(frame.persons, height, width), frame.header))
        self._stats.masks_published()
