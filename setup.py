"""centerpose: the core library (centerpose_core) and the ROS 2 node package (centerpose_ros).

One setup.py serves both worlds: `pip install -e .` for the core and CLI, and `colcon build`
(ament_python, via package.xml) for the ROS package. Runtime requirements stay loose so a
Jetson can bring its own torch / TensorRT builds; exact pins live in requirements/.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE_NAME = "centerpose_ros"

setup(
    name=PACKAGE_NAME,
    version="0.1.0",
    description="CenterNet (DLA-34) multi-person 2D pose estimation for robots, with a ROS 2 node",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["centerpose_core", "centerpose_core.*", "centerpose_ros", "centerpose_ros.*"]
    ),
    package_data={"centerpose_core": ["assets/*"], "centerpose_ros": ["assets/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE_NAME]),
        ("share/" + PACKAGE_NAME, ["package.xml"]),
        ("share/" + PACKAGE_NAME + "/launch", glob("launch/*.launch.py")),
        # Only the node's parameters: the training YAMLs in config/ are not part of the ROS package.
        ("share/" + PACKAGE_NAME + "/config", ["config/pose.yaml"]),
    ],
    install_requires=[
        "numpy",
        "opencv-python-headless",
        "scipy",
        "torch>=2.0",
        "torchvision",
        "pyyaml",
        "tqdm",
    ],
    extras_require={
        "train": ["pycocotools", "tensorboard"],
        "export": ["onnx", "onnxscript", "onnxruntime>=1.25"],
        "openvino": ["openvino"],
    },
    entry_points={
        "console_scripts": [
            "centerpose = centerpose_core.cli:main",
            "centerpose-ros = centerpose_ros.node:main",
            "centerpose-ros-lifecycle = centerpose_ros.lifecycle_node:main",
        ],
    },
)
