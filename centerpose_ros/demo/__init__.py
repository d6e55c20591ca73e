"""Demo tooling: `python -m centerpose_ros.demo` (`make demo`), the clip player and result recorder
it starts, and the loopback-only DDS environment that the demo, tests and benchmarks share.
Never imported by the node."""
