# Quick start: `make demo` (runs the main job on defaults; DEPTH=1 adds a synthetic depth stream and
# 3D output) and `make test` (sets up, then tests).
# Every target creates or updates .venv/ first; stamps make reruns quick when nothing changed.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CORE_STAMP := $(VENV)/.core-installed
ROS_STAMP := $(VENV)/.ros-installed
MSG_STAMP := $(VENV)/.msgs-built
COLCON_STAMP := $(VENV)/.colcon-installed

.PHONY: test demo lint venv ros clean

venv: $(CORE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(CORE_STAMP): requirements/dev.txt setup.py | $(PY)
	$(PIP) install -r requirements/dev.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	touch $@

# --- ROS 2 (Kilted wheels from PyPI) and the centerpose_msgs package -------------------------
# centerpose_msgs is built with plain CMake and installed into the venv's own prefix, so
# `.venv/bin/python -c 'import centerpose_msgs.msg'` and `.venv/bin/centerpose-ros` need no sourcing.
# Each rebuild first removes the files the previous build installed (listed in MSG_MANIFEST) and
# starts from an empty build folder, so a renamed or deleted .msg never leaves stale types behind.
# msg/cmake/pip_wheel_python_include.cmake repairs the wheels' baked-in /opt/python include paths
# (see ROS2_ON_PIP.md); a colcon build on a normal ROS install does not use it.
ros: $(MSG_STAMP)

$(ROS_STAMP): requirements/ros.txt | $(CORE_STAMP)
	$(PIP) install -r requirements/ros.txt
	touch $@

MSG_BUILD := build/msg
MSG_MANIFEST := $(VENV)/.msgs-install-manifest.txt
MSG_FIXUP := msg/cmake/pip_wheel_python_include.cmake
MSG_SOURCES := $(wildcard msg/msg/*.msg) msg/CMakeLists.txt msg/package.xml $(MSG_FIXUP)

$(MSG_STAMP): $(MSG_SOURCES) $(ROS_STAMP)
	@if [ -f $(MSG_MANIFEST) ]; then xargs -d '\n' rm -f < $(MSG_MANIFEST); rm -f $(MSG_MANIFEST); fi
	rm -rf $(MSG_BUILD)
	CMAKE_PREFIX_PATH=$(abspath $(VENV)) AMENT_PREFIX_PATH=$(abspath $(VENV)) \
	cmake -S msg -B $(MSG_BUILD) --log-level=WARNING \
	  -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) \
	  -DPython3_EXECUTABLE=$(abspath $(PY)) \
	  -DCMAKE_PROJECT_centerpose_msgs_INCLUDE=$(abspath $(MSG_FIXUP)) \
	  -DCENTERPOSE_PYTHON_INCLUDE_DIR="$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	  -DCENTERPOSE_NUMPY_INCLUDE_DIR="$$($(PY) -c 'import numpy; print(numpy.get_include())')"
	cmake --build $(MSG_BUILD) -j2 -- --no-print-directory > $(MSG_BUILD)/build.log || (cat $(MSG_BUILD)/build.log; exit 1)
	cmake --install $(MSG_BUILD) > $(MSG_BUILD)/install.log
	cp $(MSG_BUILD)/install_manifest.txt $(MSG_MANIFEST)
	$(PY) -c 'from centerpose_msgs.msg import Keypoint2D, PersonPose, PersonPoseArray, Keypoint3D, PersonPose3D, PersonPose3DArray'
	touch $@

# colcon (PyPI) for tests/ros/test_colcon_build.py, which builds both packages as the README says.
$(COLCON_STAMP): requirements/colcon.txt | $(ROS_STAMP)
	$(PIP) install -r requirements/colcon.txt
	touch $@

# --- user-facing targets -----------------------------------------------------------------------
lint: $(CORE_STAMP)
	$(VENV)/bin/ruff check .

test: $(CORE_STAMP) $(MSG_STAMP) $(COLCON_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

demo: $(CORE_STAMP) $(MSG_STAMP)
	$(PY) -m centerpose_ros.demo $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT)) $(if $(DEPTH),--depth)

clean:
	rm -rf build demo_out
