"""Stand-alone ROS 2 peer processes for the node tests and benchmarks (real rclpy, real DDS).

    peer.py publish PLAN.pkl [--reliability R] [--rate HZ | --lockstep] [--times OUT.jsonl] ...
    peer.py record OUT.jsonl [--topics detections,markers,diagnostics,annotated,detections_3d,markers_3d]
        [--qos-durability D] [--brief]
    peer.py set-param NODE NAME=VALUE ...
    peer.py lifecycle NODE      (then one command per stdin line: a transition label or `get`)
    peer.py imu PLAN.pkl [--topic T] [--rate HZ]   (sensor_msgs/Imu, sensor-data QoS)

`publish` sends the messages of a plan (a pickled list of dicts, see `make_message`) to `image` /
`image/compressed`, and depth images / camera infos to `depth/image` / `depth/camera_info`; it
waits until the node's subscriptions have matched (the node subscribes only once its model is
loaded). `--lockstep` waits for each colour frame's /pose/detections before sending the next
entry (unless the entry says `expect_answer: False`), so no frame is dropped by design; an entry's
`sleep_after` (seconds) pauses after it. `--rate` paces the colour frames only. `record` writes one
JSON line per message received (with the wall-clock receive time) and flushes it, so a test can
read it while it runs; `--brief` writes only the header and the person count of each
/pose/detections message (long benchmark runs: a few dozen bytes a frame instead of kilobytes).
`publish` ends by printing `SUBSCRIBERS raw=N compressed=M depth=D`: the subscriptions matched then.
`imu` waits for a subscriber, then sends one Imu message per plan row `(stamp_s, wx, wy, wz)`
(angular velocity in rad/s) at `--rate` per second and prints `SENT n`.
`lifecycle` calls NODE/change_state (by transition label, as `ros2 lifecycle set`) and
NODE/get_state, printing `RESULT <n> <command> ok|FAILED <state label>` per command.
"""

from __future__ import annotations

import argparse
import array
import base64
import hashlib
import json
import pickle
import signal
import sys
import threading
import time
from typing import Any

import rclpy
from centerpose_msgs.msg import PersonPose3DArray, PersonPoseArray
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from centerpose_ros.conversions.messages import msg_to_dict
from centerpose_ros.conversions.messages_3d import msg3d_to_dict

COLOUR_TYPES = ("raw", "compressed")


def _qos(reliability: str, depth: int, durability: str = "volatile") -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE
        if reliability == "reliable"
        else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE
        if durability == "volatile"
        else DurabilityPolicy.TRANSIENT_LOCAL,
    )


def make_message(entry: dict[str, Any], stamp_now: bool) -> Any:
    """A plan entry -> Image ("raw", "depth"), CompressedImage or CameraInfo ("camera_info": `k`,
    `width`, `height`, optional `p` and `d`). `data` is bytes; copied once via array.frombytes."""
    kind = entry["type"]
    msg = {"compressed": CompressedImage, "camera_info": CameraInfo}.get(kind, Image)()
    if stamp_now or "stamp" not in entry:
        now = time.time()
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1.0) * 1e9)
    else:
        msg.header.stamp.sec, msg.header.stamp.nanosec = entry["stamp"]
    msg.header.frame_id = entry["frame_id"]
    if kind == "camera_info":
        msg.width, msg.height = entry["width"], entry["height"]
        msg.k = [float(v) for v in entry["k"]]
        msg.p = [float(v) for v in entry.get("p", [0.0] * 12)]  # all zero unless the entry gives P
        msg.distortion_model = "plumb_bob"
        msg.d = [float(v) for v in entry.get("d", [0.0] * 5)]
        return msg
    data = array.array("B")
    data.frombytes(entry["data"])
    if entry["type"] == "compressed":
        msg.format = entry["format"]
    else:
        msg.height, msg.width = entry["height"], entry["width"]
        msg.encoding, msg.step = entry["encoding"], entry["step"]
        msg.is_bigendian = entry.get("is_bigendian", 0)
    msg.data = data
    return msg


def publish(args: argparse.Namespace) -> int:
    with open(args.plan, "rb") as f:
        plan: list[dict[str, Any]] = pickle.load(f)
    node = Node("test_camera")
    profile = _qos(args.reliability, args.depth)
    publishers = {
        "raw": node.create_publisher(Image, args.topic, profile),
        "compressed": node.create_publisher(CompressedImage, args.topic + "/compressed", profile),
        "depth": node.create_publisher(Image, args.depth_topic, profile),
        "camera_info": node.create_publisher(CameraInfo, args.info_topic, profile),
    }
    answered: set[tuple[int, int, str]] = set()
    lock = threading.Lock()

    def on_detections(msg: PersonPoseArray) -> None:
        with lock:
            answered.add((msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id))

    if args.lockstep:
        node.create_subscription(PersonPoseArray, "/pose/detections", on_detections, _qos("reliable", 50))
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    done = threading.Event()

    def spin() -> None:
        while not done.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        return _publish_plan(args, plan, publishers, answered, lock)
    finally:
        done.set()
        spinner.join()
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()


def _publish_plan(args, plan, publishers, answered, lock) -> int:
    if args.wait_match:
        pubs = [publishers[kind] for kind in {entry["type"] for entry in plan}]
        deadline = time.monotonic() + args.timeout
        while any(p.get_subscription_count() == 0 for p in pubs):
            if time.monotonic() > deadline:
                print("publish: no subscriber matched", file=sys.stderr)
                return 3
            time.sleep(0.05)
        time.sleep(0.3)  # let the reliable reader's matching settle on both sides
    times = open(args.times, "w") if args.times else None  # noqa: SIM115 - closed below
    period = 1.0 / args.rate if args.rate else 0.0
    start = time.monotonic()
    colour_frames = 0
    for i, entry in enumerate(plan):
        colour = entry["type"] in COLOUR_TYPES
        if period and colour:
            delay = start + colour_frames * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        colour_frames += colour
        msg = make_message(entry, stamp_now=args.stamp_now)
        t_pub = time.time()
        publishers[entry["type"]].publish(msg)
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id)
        if times and colour:
            times.write(json.dumps({"stamp": list(key[:2]), "frame_id": key[2], "t_pub": t_pub}) + "\n")
            times.flush()
        if "sleep_after" in entry:
            time.sleep(entry["sleep_after"])
        elif args.lockstep and colour:
            if entry.get("expect_answer", True):
                deadline = time.monotonic() + args.timeout
                while True:
                    with lock:
                        if key in answered:
                            break
                    if time.monotonic() > deadline:
                        print(
                            f"publish: no detections for frame {i} ({key}) within {args.timeout} s",
                            file=sys.stderr,
                        )
                        return 4
                    time.sleep(0.005)
            else:
                time.sleep(args.bad_gap)
    time.sleep(args.linger)  # keep the writer alive until reliable delivery completes
    if times:
        times.close()
    print(
        f"SUBSCRIBERS raw={publishers['raw'].get_subscription_count()} "
        f"compressed={publishers['compressed'].get_subscription_count()} "
        f"depth={publishers['depth'].get_subscription_count()}",
        flush=True,
    )
    return 0


def record(args: argparse.Namespace) -> int:
    node = Node("test_recorder")
    out = open(args.out, "a", buffering=1)  # noqa: SIM115 - closed at exit
    lock = threading.Lock()

    def write(topic: str, payload: dict[str, Any]) -> None:
        payload["topic"] = topic
        payload["t_recv"] = time.time()
        with lock:
            out.write(json.dumps(payload) + "\n")

    def header(msg: Any) -> dict[str, Any]:
        return {"stamp": [msg.header.stamp.sec, msg.header.stamp.nanosec], "frame_id": msg.header.frame_id}

    def on_markers(msg: MarkerArray, topic: str = "markers") -> None:
        write(
            topic,
            {
                "markers": [
                    {
                        "ns": m.ns,
                        "id": m.id,
                        "action": m.action,
                        "type": m.type,
                        "frame_id": m.header.frame_id,
                        "stamp": [m.header.stamp.sec, m.header.stamp.nanosec],
                        "n_points": len(m.points),
                        "color": [m.color.r, m.color.g, m.color.b, m.color.a],
                        "lifetime": m.lifetime.sec + m.lifetime.nanosec * 1e-9,
                    }
                    for m in msg.markers
                ]
            },
        )

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            write(
                "diagnostics",
                {
                    "name": status.name,
                    "level": int.from_bytes(status.level, "little")
                    if isinstance(status.level, bytes)
                    else int(status.level),
                    "message": status.message,
                    "values": {kv.key: kv.value for kv in status.values},
                },
            )

    def on_annotated(msg: Image) -> None:
        write(
            "annotated",
            {
                **header(msg),
                "width": msg.width,
                "height": msg.height,
                "encoding": msg.encoding,
                "md5": hashlib.md5(bytes(msg.data)).hexdigest(),
            },
        )

    def on_detections(msg: PersonPoseArray) -> None:
        brief = {**header(msg), "n_persons": len(msg.persons)}
        write("detections", brief if args.brief else msg_to_dict(msg))

    def on_masks(msg: Image) -> None:
        write(
            "masks",
            {
                **header(msg),
                "width": msg.width,
                "height": msg.height,
                "encoding": msg.encoding,
                "step": msg.step,
                "data": base64.b64encode(bytes(msg.data)).decode("ascii"),
            },
        )

    topics = args.topics.split(",")
    durable = _qos("reliable", 50, args.qos_durability)
    subs = []
    if "detections" in topics:
        subs.append(node.create_subscription(PersonPoseArray, "/pose/detections", on_detections, durable))
    if "markers" in topics:
        subs.append(node.create_subscription(MarkerArray, "/pose/markers", on_markers, _qos("reliable", 50)))
    if "diagnostics" in topics:
        subs.append(
            node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, _qos("reliable", 50))
        )
    if "detections_3d" in topics:
        subs.append(
            node.create_subscription(
                PersonPose3DArray,
                "/pose/detections_3d",
                lambda m: write("detections_3d", msg3d_to_dict(m)),
                _qos("reliable", 50),
            )
        )
    if "markers_3d" in topics:
        subs.append(
            node.create_subscription(
                MarkerArray, "/pose/markers_3d", lambda m: on_markers(m, "markers_3d"), _qos("reliable", 50)
            )
        )
    if "annotated" in topics:
        subs.append(
            node.create_subscription(Image, "/pose/image_annotated", on_annotated, _qos("reliable", 5))
        )
    if "masks" in topics:
        subs.append(node.create_subscription(Image, "/pose/masks", on_masks, _qos("reliable", 5)))

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ready = False
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.05)
        if not ready and all(node.count_publishers(s.topic_name) > 0 for s in subs):
            ready = True
            print("RECORDER READY", flush=True)
    out.close()
    executor.shutdown(timeout_sec=1.0)
    node.destroy_node()
    return 0


def set_param(args: argparse.Namespace) -> int:
    node = Node("test_param_client")
    client = node.create_client(SetParameters, f"{args.node}/set_parameters")
    if not client.wait_for_service(timeout_sec=args.timeout):
        print(f"set-param: service {args.node}/set_parameters not available", file=sys.stderr)
        return 3
    request = SetParameters.Request()
    for assignment in args.assignments:
        name, _, text = assignment.partition("=")
        value = json.loads(text)
        if isinstance(value, bool):
            pv = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
        elif isinstance(value, int):
            pv = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        elif isinstance(value, float):
            pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        else:
            pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(value))
        request.parameters.append(Parameter(name=name, value=pv))
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=args.timeout)
    if future.result() is None:
        print("set-param: no reply", file=sys.stderr)
        return 4
    results = future.result().results
    for assignment, result in zip(args.assignments, results):
        print(f"{assignment}: {'ok' if result.successful else 'REFUSED ' + result.reason}", flush=True)
    node.destroy_node()
    return 0 if all(r.successful for r in results) else 1


def lifecycle(args: argparse.Namespace) -> int:
    node = Node("test_lifecycle_client")
    change = node.create_client(ChangeState, f"{args.node}/change_state")
    get = node.create_client(GetState, f"{args.node}/get_state")
    for client in (change, get):
        if not client.wait_for_service(timeout_sec=args.timeout):
            print(f"lifecycle: service {client.srv_name} not available", file=sys.stderr)
            return 3

    def call(client: Any, request: Any) -> Any:
        future = client.call_async(request)
        rclpy.spin_until_future_complete(node, future, timeout_sec=args.timeout)
        return future.result()

    print("LIFECYCLE CLIENT READY", flush=True)
    count = 0
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        count += 1
        ok = True
        if command != "get":
            request = ChangeState.Request()
            request.transition.label = command
            reply = call(change, request)
            ok = reply is not None and reply.success
        state = call(get, GetState.Request())
        label = state.current_state.label if state is not None else "no_reply"
        print(f"RESULT {count} {command} {'ok' if ok else 'FAILED'} {label} {time.time():.6f}", flush=True)
    node.destroy_node()
    return 0


def imu(args: argparse.Namespace) -> int:
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Imu

    with open(args.plan, "rb") as f:
        plan = pickle.load(f)
    node = Node("imu_peer")
    publisher = node.create_publisher(Imu, args.topic, qos_profile_sensor_data)
    deadline = time.monotonic() + args.timeout
    while publisher.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print("NO SUBSCRIBER", flush=True)
            return 1
        time.sleep(0.05)
    time.sleep(0.3)  # discovery completes both ways before the first sample
    for stamp_s, wx, wy, wz in plan:
        msg = Imu()
        msg.header.frame_id = "imu_link"
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(round(stamp_s * 1e9), 1_000_000_000)
        msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = wx, wy, wz
        publisher.publish(msg)
        time.sleep(1.0 / args.rate)
    print(f"SENT {len(plan)}", flush=True)
    time.sleep(0.5)
    node.destroy_node()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("publish")
    p.add_argument("plan")
    p.add_argument("--topic", default="image")
    p.add_argument("--depth-topic", default="depth/image")
    p.add_argument("--info-topic", default="depth/camera_info")
    p.add_argument("--reliability", default="reliable", choices=("reliable", "best_effort"))
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--rate", type=float, default=0.0, help="frames per second (0: as fast as possible)")
    p.add_argument("--lockstep", action="store_true")
    p.add_argument("--stamp-now", action="store_true", help="stamp frames with the wall clock when sent")
    p.add_argument("--no-wait-match", dest="wait_match", action="store_false")
    p.add_argument("--times", help="JSON lines of (stamp, frame_id, publish wall time)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--bad-gap", type=float, default=0.3)
    p.add_argument("--linger", type=float, default=1.0)
    p.set_defaults(func=publish)
    r = sub.add_parser("record")
    r.add_argument("out")
    r.add_argument("--topics", default="detections,markers,diagnostics")
    r.add_argument("--qos-durability", default="volatile", choices=("volatile", "transient_local"))
    r.add_argument("--brief", action="store_true", help="detections: header and person count only")
    r.set_defaults(func=record)
    s = sub.add_parser("set-param")
    s.add_argument("node")
    s.add_argument("assignments", nargs="+", help="NAME=JSON_VALUE")
    s.add_argument("--timeout", type=float, default=20.0)
    s.set_defaults(func=set_param)
    lc = sub.add_parser("lifecycle")
    lc.add_argument("node")
    lc.add_argument("--timeout", type=float, default=120.0)
    lc.set_defaults(func=lifecycle)
    i = sub.add_parser("imu")
    i.add_argument("plan")
    i.add_argument("--topic", default="imu")
    i.add_argument("--rate", type=float, default=400.0)
    i.add_argument("--timeout", type=float, default=30.0)
    i.set_defaults(func=imu)
    args = parser.parse_args()
    rclpy.init()
    try:
        return args.func(args)
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
