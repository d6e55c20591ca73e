"""TEST DOUBLE of ROS 2 `message_filters` (Subscriber, Cache): only for tests/ros/test_node_depth.py.

The real package is part of every ROS 2 install (ros-<distro>-message-filters) but is not on PyPI,
so the test environment cannot install it. The node's message_filters path is run against this
stand-in, which keeps the public behaviour of ros2/message_filters' Python API that the node relies
on: `Subscriber(node, msg_type, topic, **kwargs)` creates the subscription with
`node.create_subscription(msg_type, topic, callback, **kwargs)` (qos_profile defaults to 10) and
exposes it as `.sub`; `Cache(input_filter, cache_size)` keeps the newest `cache_size` messages with
their header stamps as rclpy `Time.from_msg` (ROS clock), signals each added message to its own
callbacks, and `getInterval(from_stamp, to_stamp)` returns the messages with
from_stamp <= stamp <= to_stamp (rclpy Time comparisons, which refuse Times of different clocks),
asserting from_stamp <= to_stamp. Tests put this folder on PYTHONPATH only when they mean to.
"""

from __future__ import annotations

from typing import Any

from rclpy.time import Time

IS_TEST_DOUBLE = True


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


class Subscriber(SimpleFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.node, self.topic = args[0], args[2]
        kwargs.setdefault("qos_profile", 10)
        self.sub = self.node.create_subscription(*args[1:], self.callback, **kwargs)

    def callback(self, msg: Any) -> None:
        self.signalMessage(msg)


class Cache(SimpleFilter):
    def __init__(self, input_filter: SimpleFilter, cache_size: int = 1) -> None:
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
