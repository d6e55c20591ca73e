"""TEST DOUBLE of ROS 2 `message_filters` (SimpleFilter, Subscriber, Cache): only for the ROS tests.

The real package is part of every ROS 2 install (ros-<distro>-message-filters) but is not on PyPI,
so the test environment cannot install it. The node's message_filters path is run against this
stand-in, which keeps the public behaviour of ros2/message_filters' Python API:
`SimpleFilter` (registerCallback / signalMessage), and `Cache(input_filter, cache_size)`, which keeps
the newest `cache_size` messages with their header stamps as rclpy `Time.from_msg` (ROS clock),
signals each added message to its own callbacks, and whose `getInterval(from_stamp, to_stamp)`
returns the messages with from_stamp <= stamp <= to_stamp (rclpy Time comparisons, which refuse
Times of different clocks), asserting from_stamp <= to_stamp.

`Subscriber` has the signature of the release named by $MESSAGE_FILTERS_DOUBLE_SUBSCRIBER (the
releases differ, see ros2/message_filters PRs #226, #247, #251):
  * `kwargs` (default; up to Nov 2025): `Subscriber(*args, **kwargs)`, args = node, msg_type, topic;
    every keyword goes to `node.create_subscription` (qos_profile defaults to 10).
  * `explicit` (#226, Dec 2025 - Jan 2026): `Subscriber(node, msg_type, topic, qos_profile=...)` and
    nothing else: `event_callbacks=` is a TypeError.
  * `explicit_kwargs` (#247, the Feb 2026 releases kilted 7.1.6, jazzy 4.11.11, humble 4.3.13): as
    `explicit`, plus `**kwargs` passed on to `node.create_subscription`.
$MESSAGE_FILTERS_DOUBLE_BROKEN=cache makes `Cache()` raise, standing in for a release whose Cache
cannot be used (the node's `depth_sync: auto` must then fall back). Tests put this folder on
PYTHONPATH only when they mean to.
"""

from __future__ import annotations

import os
from typing import Any

from rclpy.qos import QoSProfile
from rclpy.time import Time

IS_TEST_DOUBLE = True
SUBSCRIBER_SIGNATURES = ("kwargs", "explicit", "explicit_kwargs")
DEFAULT_QOS = QoSProfile(depth=10)  # the explicit signatures' default


class SimpleFilter:
    def __init__(self) -> None:
        self.callbacks: dict[int, tuple[Any, tuple]] = {}

    def registerCallback(self, callback: Any, *args: Any) -> int:  # noqa: N802 - the real API's name
        connection = len(self.callbacks)
        self.callbacks[connection] = (callback, args)
        return connection

    def signalMessage(self, *msg: Any) -> None:  # noqa: N802 - the real API's name
        for callback, args in list(self.callbacks.values()):
            callback(*(msg + args))


class _KwargsSubscriber(SimpleFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.node, self.topic = args[0], args[2]
        kwargs.setdefault("qos_profile", 10)
        self.sub = self.node.create_subscription(*args[1:], self.callback, **kwargs)

    def callback(self, msg: Any) -> None:
        self.signalMessage(msg)


class _ExplicitSubscriber(SimpleFilter):
    def __init__(self, node: Any, msg_type: Any, topic: str, qos_profile: Any = DEFAULT_QOS) -> None:
        super().__init__()
        self.node, self.topic = node, topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile)

    def callback(self, msg: Any) -> None:
        self.signalMessage(msg)


class _ExplicitKwargsSubscriber(SimpleFilter):
    def __init__(
        self, node: Any, msg_type: Any, topic: str, qos_profile: Any = DEFAULT_QOS, **kwargs: Any
    ) -> None:
        super().__init__()
        self.node, self.topic = node, topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile, **kwargs)

    def callback(self, msg: Any) -> None:
        self.signalMessage(msg)


_SIGNATURE = os.environ.get("MESSAGE_FILTERS_DOUBLE_SUBSCRIBER", "kwargs")
Subscriber = {
    "kwargs": _KwargsSubscriber,
    "explicit": _ExplicitSubscriber,
    "explicit_kwargs": _ExplicitKwargsSubscriber,
}[_SIGNATURE]


class Cache(SimpleFilter):
    def __init__(self, input_filter: SimpleFilter, cache_size: int = 1) -> None:
        if os.environ.get("MESSAGE_FILTERS_DOUBLE_BROKEN") == "cache":
            raise TypeError("Cache.__init__() got an unexpected signature (test double: broken Cache)")
        super().__init__()
        self.cache_size = cache_size
        self.cache_msgs: list[Any] = []
        self.cache_times: list[Time] = []
        input_filter.registerCallback(self.add)

    def add(self, msg: Any) -> None:
        self.cache_times.append(Time.from_msg(msg.header.stamp))
        self.cache_msgs.append(msg)
        if len(self.cache_msgs) > self.cache_size:
            del self.cache_msgs[0]
            del self.cache_times[0]
        self.signalMessage(msg)

    def getInterval(self, from_stamp: Time, to_stamp: Time) -> list[Any]:  # noqa: N802 - the real API's name
        assert from_stamp <= to_stamp
        return [
            msg for msg, stamp in zip(self.cache_msgs, self.cache_times) if from_stamp <= stamp <= to_stamp
        ]
