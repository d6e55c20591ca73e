"""QoS profiles of the node's topics and the warnings for incompatible peers.

"The node runs but publishes nothing" is nearly always a QoS mismatch, which DDS reports only
as an event. The node registers incompatible-QoS callbacks on its subscriptions and publishers
and logs, once per new mismatch, the topic, both sides' QoS and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSPolicyKind,
    QoSProfile,
    ReliabilityPolicy,
)

IMAGE_DEPTH = 1  # keep only the newest frame: a pose node must never work through a backlog
DETECTIONS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
ANNOTATED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
MARKERS_QOS = DETECTIONS_QOS
MASKS_QOS = ANNOTATED_QOS  # an image per frame: keep-last 1, reliable
DIAGNOSTICS_QOS = DETECTIONS_QOS


def image_qos(reliability: str) -> QoSProfile:
    """Image input QoS: keep-last 1, volatile, `reliable` or `best_effort` (parameter image_reliability)."""
    policy = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}[
        reliability
    ]
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=IMAGE_DEPTH,
        reliability=policy,
        durability=DurabilityPolicy.VOLATILE,
    )


def describe(qos: Any) -> str:
    """'reliability=reliable, durability=volatile, history=keep_last(1)' for a QoSProfile."""
    history = _short(qos.history)
    if history == "keep_last":
        history = f"keep_last({qos.depth})"
    return f"reliability={_short(qos.reliability)}, durability={_short(qos.durability)}, history={history}"


def policy_name(kind: int) -> str:
    try:
        return QoSPolicyKind(kind).name.lower()
    except ValueError:
        return f"policy #{kind}"


def subscription_mismatch_message(
    topic: str, own: QoSProfile, publishers: Iterable[Any], policy_kind: int, reliability_param: str
) -> str:
    """The warning for a publisher whose offered QoS our image subscription cannot accept."""
    offered = "; ".join(sorted({describe(p) for p in publishers})) or "unknown (publisher already gone)"
    policy = policy_name(policy_kind)
    text = (
        f"QoS mismatch on '{topic}': a publisher offers [{offered}] but this node subscribes with "
        f"[{describe(own)}] (incompatible policy: {policy}); NO images from it will arrive. "
    )
    if policy == "reliability" and reliability_param == "reliable":
        text += (
            "Fix: set the parameter image_reliability to best_effort "
            "(-p image_reliability:=best_effort, or image_reliability: best_effort in the params file), "
            "or make the camera publish reliable (recommended for frames over ~500 KB)."
        )
    else:
        text += (
            "Fix: make the publisher offer the requested policy "
            "(image_reliability sets this node's reliability)."
        )
    return text


def publisher_mismatch_message(
    topic: str, own: QoSProfile, subscribers: Iterable[Any], policy_kind: int
) -> str:
    """The warning for a subscriber requesting more than our publisher offers."""
    requested = "; ".join(sorted({describe(s) for s in subscribers})) or "unknown (subscriber already gone)"
    return (
        f"QoS mismatch on '{topic}': a subscriber requests [{requested}] but this node publishes with "
        f"[{describe(own)}] (incompatible policy: {policy_name(policy_kind)}); it will receive NOTHING. "
        f"Fix: subscribe with durability volatile and reliability reliable or best_effort."
    )


def _short(policy: Any) -> str:
    try:
        return policy.short_key
    except AttributeError:
        return str(policy)
