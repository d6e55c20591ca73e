"""Environment that keeps ROS 2 / Fast DDS traffic on loopback, for tests and `make demo`.

Not used by the node itself: on a robot, users want normal discovery. See ROS2_ON_PIP.md.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

LOOPBACK_PROFILE = Path(__file__).resolve().parents[1] / "assets" / "fastdds_loopback.xml"


def pick_domain_id() -> int:
    """A domain id in 1..100 for one run, so parallel runs on one machine never cross-talk."""
    return random.SystemRandom().randint(1, 100)


def loopback_env(domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) with loopback-only DDS on `domain_id`."""
    env = dict(os.environ if base is None else base)
    env.update(
        ROS_DOMAIN_ID=str(domain_id),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        FASTDDS_DEFAULT_PROFILES_FILE=str(LOOPBACK_PROFILE),
        RMW_IMPLEMENTATION="rmw_fastrtps_cpp",
        PYTHONUNBUFFERED="1",
    )
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated; conflicts with the discovery range
    env.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
    return env
