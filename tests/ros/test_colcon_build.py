"""The README's robot build, for real: colcon builds centerpose_msgs + centerpose_ros in a fresh workspace.

The commands come from the README's "Run it" code block, so the README and this test cannot drift:
the `colcon build` line is run as written (plus, from this test only, the CMake include repair the
PyPI ROS wheels need, see msg/cmake/pip_wheel_python_include.cmake), then `source install/setup.bash`
and the `ros2 run ...` line start the node from the install space. The venv with the ROS wheels plays
the sourced ROS install (`AMENT_PREFIX_PATH` / `CMAKE_PREFIX_PATH`). `ros2` itself (ros2cli) is not on
PyPI: a bash function resolves `ros2 run` and `ros2 pkg prefix --share` through ament_index_python,
the index that ros2cli reads. rosdep cannot resolve keys offline; its `--from-paths` crawl is checked
with catkin_pkg's crawler (the one rosdep uses) and both package.xml files are validated.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ros_helpers import REPO, TEST_INPUT_SIZE, Proc, require_ros

require_ros()
pytestmark = pytest.mark.ros

VENV = Path(sys.prefix)
COLCON = Path(sys.executable).parent / "colcon"
README = REPO / "README.md"
PACKAGES = {"centerpose_msgs": "msg", "centerpose_ros": "."}

# Imports the package.xml of centerpose_ros must declare, by top-level module -> rosdep key.
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "cv2": "python3-opencv",
    "torch": "python3-torch",
    "torchvision": "python3-torchvision",
    "yaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "scipy": "python3-scipy",
    "message_filters": "message_filters",  # a ROS package, but not in the PyPI wheels' index here
}
# Imports that stay undeclared on purpose: optional backends and training-only tools.
OPTIONAL_IMPORTS = {
    "onnx": "ONNX export / onnxruntime backend (pip extra [export])",
    "onnxruntime": "onnxruntime backend (pip extra [export])",
    "tensorrt": "TensorRT backend (JetPack / TensorRT install)",
    "torch2trt": "torch2trt backend, used when installed",
    "cv_bridge": "used when present, the node converts images itself otherwise",
    "pycocotools": "training and `centerpose eval` only (pip extra [train])",
    "openvino": "OpenVINO backend, used when installed (pip extra [openvino]); no rosdep key",
}


# --- the README's commands ----------------------------------------------------------------------
def readme_run_block() -> list[str]:
    """Commands of the first bash block under '### Run it', with continuation lines joined."""
    text = README.read_text()
    section = text[text.index("### Run it") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no ```bash block under '### Run it'"
    joined = block.group(1).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def readme_command(prefix: str) -> str:
    matches = [line for line in readme_run_block() if line.startswith(prefix)]
    assert len(matches) == 1, f"README 'Run it' block: expected one line starting with {prefix!r}"
    return matches[0]


# --- the workspace --------------------------------------------------------------------------------
def copy_checkout(dest: Path) -> None:
    """What `git clone` gives: the repository's files without the venv, builds and caches."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: copy minus the usual outputs
        shutil.copytree(
            REPO, dest, ignore=shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", "*.egg-info")
        )
        return
    for name in names:
        source = REPO / name
        if source.is_file():  # skip files deleted in the working tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def sourced_ros_env() -> dict[str, str]:
    """This process's environment with the venv as the sourced ROS install."""
    env = dict(os.environ)
    env.update(
        AMENT_PREFIX_PATH=str(VENV),
        CMAKE_PREFIX_PATH=str(VENV),
        PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def pip_wheel_cmake_args(source: Path) -> list[str]:
    """The /opt/python include repair the wheels need (the Makefile's msg build passes the same)."""
    import numpy

    return [
        "--cmake-args",
        f"-DCMAKE_PROJECT_centerpose_msgs_INCLUDE={source / 'msg/cmake/pip_wheel_python_include.cmake'}",
        f"-DCENTERPOSE_PYTHON_INCLUDE_DIR={sysconfig.get_paths()['include']}",
        f"-DCENTERPOSE_NUMPY_INCLUDE_DIR={numpy.get_include()}",
    ]


@dataclass
class Workspace:
    root: Path
    source: Path
    build_output: str
    build_seconds: float

    @property
    def install(self) -> Path:
        return self.root / "install"

    def prefix(self, package: str) -> Path:
        return self.install / package

    def sourced_bash(self, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `script` in bash after `source install/setup.bash`, with `ros2` resolved as described above."""
        return subprocess.run(
            ["bash", "-c", f"set -e\nsource install/setup.bash\n{ROS2_SHIM}\n{script}"],
            cwd=self.root,
            env=sourced_ros_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


ROS2_SHIM = r"""
_ament() {
  python -c 'import sys, ament_index_python.packages as a; print(getattr(a, sys.argv[1])(sys.argv[2]))' "$@"
}
ros2() {  # `run` replaces the shell (exec), so signals reach the node
  if [ "$1" = run ]; then
    local exe
    exe="$(_ament get_package_prefix "$2")/lib/$2/$3"
    shift 3
    exec "$exe" "$@"
  elif [ "$1 $2 $3" = "pkg prefix --share" ]; then
    _ament get_package_share_directory "$4"
  else
    echo "ros2 $*: not available in this test" >&2; return 2
  fi
}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    if not COLCON.is_file():
        pytest.skip(f"{COLCON} missing: pip install -r requirements/colcon.txt (make test does)")
    if shutil.which("cmake") is None:
        pytest.skip("cmake not found (needed to build centerpose_msgs)")
    root = tmp_path_factory.mktemp("colcon_ws")
    source = root / "src" / "centerpose"  # the README's `git clone <this repo> centerpose`
    copy_checkout(source)
    command = shlex.split(readme_command("colcon build"))
    assert command[:2] == ["colcon", "build"]
    started = time.monotonic()
    result = subprocess.run(
        [str(COLCON), *command[1:], *pip_wheel_cmake_args(source)],
        cwd=root,
        env=sourced_ros_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"colcon build failed ({result.returncode}):\n{output[-5000:]}"
    print(f"\ncolcon build of the README command: {seconds:.1f} s")
    yield Workspace(root, source, output, seconds)


# --- tests ----------------------------------------------------------------------------------------
def test_readme_colcon_build_builds_both_packages(workspace: Workspace) -> None:
    assert "ignoring unknown package" not in workspace.build_output, workspace.build_output
    for package in PACKAGES:
        assert re.search(rf"Finished <<< {package}\b", workspace.build_output), workspace.build_output
    assert "Summary: 2 packages finished" in workspace.build_output, workspace.build_output


def test_install_space_layout(workspace: Workspace) -> None:
    ros = workspace.prefix("centerpose_ros")
    for executable in ("centerpose-ros", "centerpose-ros-lifecycle"):
        path = ros / "lib" / "centerpose_ros" / executable
        assert path.is_file() and os.access(path, os.X_OK), f"{path} missing or not executable"
    share = ros / "share" / "centerpose_ros"
    assert (share / "launch" / "pose.launch.py").read_text() == (REPO / "launch/pose.launch.py").read_text()
    installed_configs = sorted(p.name for p in (share / "config").iterdir())
    assert installed_configs == ["pose.yaml"], "only the node's pose.yaml belongs in the ROS share"
    assert (share / "config" / "pose.yaml").read_text() == (REPO / "config/pose.yaml").read_text()
    for package in PACKAGES:
        index = workspace.prefix(package) / "share" / "ament_index" / "resource_index"
        assert (index / "packages" / package).is_file(), f"ament index entry of {package} missing"
        assert (workspace.prefix(package) / "share" / package / "package.xml").is_file()
    index = workspace.prefix("centerpose_msgs") / "share" / "ament_index" / "resource_index"
    built = set((index / "rosidl_interfaces" / "centerpose_msgs").read_text().split())
    assert "msg/PersonPoseArray.msg" in built
    sources = {f"msg/{p.name}" for p in (workspace.source / "msg" / "msg").glob("*.msg")}
    assert sources <= built, f"messages in msg/msg/ but not generated: {sorted(sources - built)}"


INSTALL_SPACE_CHECK = r"""
import os, sys
from centerpose_msgs.msg import Keypoint2D, PersonPose, PersonPoseArray
from rclpy.serialization import deserialize_message, serialize_message
import centerpose_msgs, centerpose_ros
from ament_index_python.packages import get_package_prefix

install = sys.argv[1]
person = PersonPose(score=0.5, keypoints=[Keypoint2D(x=float(i)) for i in range(17)])
message = PersonPoseArray(persons=[person])
message.header.frame_id = "cam"
copy = deserialize_message(serialize_message(message), PersonPoseArray)
assert copy.header.frame_id == "cam" and copy.persons[0].keypoints[16].x == 16.0, copy
for module in (centerpose_msgs, centerpose_ros):
    assert module.__file__.startswith(install), module.__file__
for package in ("centerpose_msgs", "centerpose_ros"):
    assert get_package_prefix(package) == os.path.join(install, package), get_package_prefix(package)
libraries = {line.split()[-1] for line in open("/proc/self/maps") if "libcenterpose_msgs" in line}
assert libraries and all(lib.startswith(install) for lib in libraries), libraries
print("INSTALL SPACE OK", len(libraries), "message libraries")
"""


def test_sourced_install_space_imports_messages_and_runs_help(workspace: Workspace) -> None:
    script = (
        f"python - {shlex.quote(str(workspace.install))} <<'EOF'\n{INSTALL_SPACE_CHECK}\nEOF\n"
        "(ros2 run centerpose_ros centerpose-ros-lifecycle --help)\n"  # a subshell: `ros2 run` execs
        "ros2 run centerpose_ros centerpose-ros --help\n"
    )
    result = workspace.sourced_bash(script)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "INSTALL SPACE OK" in result.stdout
    assert "usage: centerpose-ros-lifecycle" in result.stdout, output
    assert "usage: centerpose-ros [" in result.stdout and "model_path" in result.stdout, output


def test_readme_ros2_run_line_starts_the_node(workspace: Workspace, random_checkpoint: Path) -> None:
    from centerpose_ros.demo.local_dds import loopback_env, pick_domain_id

    line = readme_command("ros2 run centerpose_ros centerpose-ros")
    assert "$(ros2 pkg prefix --share centerpose_ros)/config/pose.yaml" in line
    line, replaced = re.subn(r"model_path:=\S+", f"model_path:={random_checkpoint}", line)
    assert replaced == 1, "the README's ros2 run line sets model_path"
    small = f" -p input_size:={TEST_INPUT_SIZE} -p backend:=torch -p device:=cpu"
    script = f"cd {shlex.quote(str(workspace.root))}\nsource install/setup.bash\n{ROS2_SHIM}\n{line}{small}\n"
    env = loopback_env(pick_domain_id(), sourced_ros_env())
    proc = Proc("installed_node", ["bash", "-c", script], env, workspace.root)
    try:
        proc.wait_for_log(r"\] \[centerpose\]: ready", timeout=120)
    finally:
        rc = proc.stop(signal.SIGTERM)
    log = proc.log()
    assert rc == 0 and "Traceback" not in log, log[-3000:]
    assert f"at {TEST_INPUT_SIZE}px" in log and random_checkpoint.name in log, log[-3000:]


def test_package_xml_files_parse_and_rosdep_crawl_finds_both(tmp_path: Path) -> None:
    from catkin_pkg.package import parse_package
    from catkin_pkg.packages import find_packages

    for name, folder in PACKAGES.items():
        package = parse_package(REPO / folder / "package.xml")
        warnings: list[str] = []
        package.validate(warnings=warnings)
        assert (package.name, package.package_format, warnings) == (name, 3, [])
    ros = parse_package(REPO / "package.xml")
    assert "centerpose_msgs" in {d.name for d in ros.exec_depends}
    assert ros.exports and any(e.tagname == "build_type" and e.content == "ament_python" for e in ros.exports)

    # rosdep's --from-paths crawl (catkin_pkg) in a workspace laid out as the README says.
    source = tmp_path / "src" / "centerpose"
    for folder in PACKAGES.values():
        (source / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / folder / "package.xml", source / folder / "package.xml")
    argv = shlex.split(readme_command("rosdep install"))
    paths = argv[argv.index("--from-paths") + 1 :]
    paths = paths[: next((i for i, a in enumerate(paths) if a.startswith("-")), len(paths))]
    found = {pkg.name for path in paths for pkg in find_packages(str(tmp_path / path)).values()}
    assert found == set(PACKAGES), f"rosdep --from-paths {paths} sees {found}"
    assert {p.name for p in find_packages(str(tmp_path / "src")).values()} == {"centerpose_ros"}, (
        "a plain --from-paths src must miss centerpose_msgs (why the README names msg/)"
    )
    assert "--ignore-src" in argv


def _third_party_imports(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("centerpose_core", "centerpose_ros"):
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _ros_package(module: str) -> str | None:
    """A ROS package's Python module has the package's name (launch/launch_ros: not on PyPI, known)."""
    indexed = (VENV / "share" / "ament_index" / "resource_index" / "packages" / module).is_file()
    return module if indexed or module in ("centerpose_msgs", "launch", "launch_ros") else None


def test_package_xml_declares_what_the_code_imports() -> None:
    """Every import of the installed Python code has its rosdep key in package.xml, and vice versa."""
    from catkin_pkg.package import parse_package

    files = [*REPO.glob("centerpose_ros/**/*.py"), *REPO.glob("centerpose_core/**/*.py")]
    files += REPO.glob("launch/*.py")
    imports = _third_party_imports(files)
    declared = {d.name for d in parse_package(REPO / "package.xml").exec_depends}
    needed = set()
    for module, where in imports.items():
        if module in OPTIONAL_IMPORTS:
            continue
        key = ROSDEP_KEYS.get(module) or _ros_package(module)
        assert key, (
            f"{module} (imported by {sorted(where)[:3]}): add its rosdep key to package.xml and ROSDEP_KEYS, "
            "or to OPTIONAL_IMPORTS with the reason"
        )
        assert key in declared, f"{module} (imported by {sorted(where)[:3]}): declare {key} in package.xml"
        needed.add(key)
    assert declared - needed == set(), f"declared but never imported: {sorted(declared - needed)}"
