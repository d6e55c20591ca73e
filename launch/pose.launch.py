"""Launch the centerpose pose node.

    ros2 launch centerpose_ros pose.launch.py model_path:=/models/multi_pose_dla_3x.pth \
        image:=/camera/color/image_raw
    ros2 launch centerpose_ros pose.launch.py lifecycle:=true ...   # managed node, starts unconfigured
    ros2 launch centerpose_ros pose.launch.py use_depth:=true ...   # + /pose/detections_3d (RealSense topics)

Equivalent without `launch` (what the tests run; keep the two in step):

    centerpose-ros --ros-args --params-file config/pose.yaml -p model_path:=... \
        -r image:=/camera/image_raw -r image/compressed:=/camera/image_raw/compressed \
        -r depth/image:=/camera/aligned_depth_to_color/image_raw \
        -r depth/camera_info:=/camera/aligned_depth_to_color/camera_info
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = "centerpose_ros"
EXECUTABLE = "centerpose-ros"
LIFECYCLE_EXECUTABLE = "centerpose-ros-lifecycle"
NODE_NAME = "centerpose"
DEFAULT_IMAGE_TOPIC = "/camera/image_raw"
# realsense2_camera with align_depth.enable:=true
DEFAULT_DEPTH_TOPIC = "/camera/aligned_depth_to_color/image_raw"
DEFAULT_DEPTH_INFO_TOPIC = "/camera/aligned_depth_to_color/camera_info"


def _pose_node(context, *args, **kwargs):
    """Build the node once arguments are known: empty model_path/backend/use_depth keep the params
    file's values."""
    image = LaunchConfiguration("image").perform(context)
    lifecycle = LaunchConfiguration("lifecycle").perform(context).strip().lower() in ("true", "1", "yes")
    overrides = {}
    for name in ("model_path", "backend"):
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    use_depth = LaunchConfiguration("use_depth").perform(context).strip().lower()
    if use_depth:
        overrides["use_depth"] = use_depth in ("true", "1", "yes")
    remappings = [
        ("image", image),
        ("image/compressed", image.rstrip("/") + "/compressed"),
        ("depth/image", LaunchConfiguration("depth_image").perform(context)),
        ("depth/camera_info", LaunchConfiguration("depth_camera_info").perform(context)),
    ]
    parameters = [LaunchConfiguration("params_file")]
    if overrides:
        parameters.append(overrides)
    node_action = LifecycleNode if lifecycle else Node
    return [
        node_action(
            package=PACKAGE,
            executable=LIFECYCLE_EXECUTABLE if lifecycle else EXECUTABLE,
            name=NODE_NAME,
            namespace=LaunchConfiguration("namespace"),
            parameters=parameters,
            remappings=remappings,
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "image",
                default_value=DEFAULT_IMAGE_TOPIC,
                description="Camera image topic (sensor_msgs/Image); its /compressed sibling is used when "
                "use_compressed is true.",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "pose.yaml"]),
                description="YAML file with the node's parameters (default: the package's config/pose.yaml).",
            ),
            DeclareLaunchArgument(
                "model_path",
                default_value="",
                description="Checkpoint (.pth), ONNX file or TensorRT engine; empty: params file's value.",
            ),
            DeclareLaunchArgument(
                "backend",
                default_value="",
                description="auto, tensorrt, onnxruntime or torch; empty: the params file's value (auto).",
            ),
            DeclareLaunchArgument(
                "use_depth",
                default_value="",
                description="true: also publish /pose/detections_3d from an aligned depth image "
                "(depth_image, depth_camera_info); empty: the params file's value (false).",
            ),
            DeclareLaunchArgument(
                "depth_image",
                default_value=DEFAULT_DEPTH_TOPIC,
                description="Depth image aligned to `image` (sensor_msgs/Image 16UC1 mm or 32FC1 m); "
                "used when use_depth is true.",
            ),
            DeclareLaunchArgument(
                "depth_camera_info",
                default_value=DEFAULT_DEPTH_INFO_TOPIC,
                description="CameraInfo of the depth image (its K); used when use_depth is true.",
            ),
            DeclareLaunchArgument(
                "lifecycle",
                default_value="false",
                description="true: run the managed (lifecycle) node, which starts unconfigured and waits "
                "for configure/activate from a lifecycle manager or `ros2 lifecycle set`.",
            ),
            DeclareLaunchArgument(
                "namespace",
                default_value="",
                description="Namespace of the node (its /pose/* topics are absolute).",
            ),
            OpaqueFunction(function=_pose_node),
        ]
    )
