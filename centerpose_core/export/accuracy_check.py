"""The accuracy check an INT8 file carries: what quantizing cost, measured, stored in the file.

`backend="auto"` / `precision="auto"` run an INT8 (Q/DQ) file only when it carries a check that
passes (`AccuracyCheck.passes`): keypoint AP at most `MAX_AP_DROP` below fp32 on at least
`MIN_PERSONS` held-out persons, and a median keypoint displacement from fp32 of at most
`MAX_DISPLACEMENT_PX` network-input pixels, on every runtime it names. `centerpose export
--quantize int8 --heldout DIR` (or `benchmarks/int8_check.py --record`) measures and writes it
(`train.int8_accuracy`); the check lives in the ONNX metadata (`centerpose.accuracy_check`, JSON),
so it travels with the file and changes nothing a runtime reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ACCURACY_CHECK_KEY = "accuracy_check"
MAX_AP_DROP = 0.01  # 1 keypoint AP point
MIN_PERSONS = 500  # below this, 1 AP point is inside the bootstrap noise of a synthetic set
MAX_DISPLACEMENT_PX = 1.0


@dataclass(frozen=True)
class AccuracyCheck:
    """One measurement of an INT8 file against its fp32 source on a held-out set.

    ap_drop_interval: bootstrap 95 % interval of (AP fp32 - AP int8), resampling images.
    displacement_px: median over the held-out persons fp32 finds of the largest keypoint distance
        to the INT8 run's matching person, in network-input pixels.
    """

    calibration_sha256: str
    heldout: str
    persons: int
    ap_fp32: float
    ap_int8: float
    ap_drop_interval: tuple[float, float]
    displacement_px: float
    runtime: str = ""  # the runtimes measured, comma-separated ("onnxruntime, openvino")
    # runtime -> its own ap_fp32, ap_int8, ap_drop_interval, displacement_px; the fields above are
    # the worst runtime's, so the check passes only where each named runtime passes
    per_runtime: dict = field(default_factory=dict)

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runtimes the check was measured on (empty for a record that does not say)."""
        return tuple(name.strip() for name in self.runtime.split(",") if name.strip())

    @property
    def ap_drop(self) -> float:
        return self.ap_fp32 - self.ap_int8

    def failures(self) -> list[str]:
        """Why the check does not pass (empty when it does)."""
        problems = []
        if self.persons < MIN_PERSONS:
            problems.append(f"measured on {self.persons} persons (< {MIN_PERSONS})")
        if self.ap_drop > MAX_AP_DROP:
            problems.append(f"AP {self.ap_drop * 100:.1f} points below fp32 (> {MAX_AP_DROP * 100:g})")
        if self.displacement_px > MAX_DISPLACEMENT_PX:
            problems.append(f"median displacement {self.displacement_px:.2f} px (> {MAX_DISPLACEMENT_PX:g})")
        return problems

    def passes(self) -> bool:
        return not self.failures()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> AccuracyCheck:
        """ValueError naming the missing or extra fields of a malformed record."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"accuracy check is not JSON: {exc}") from None
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.name not in ("runtime", "per_runtime")}
        if not isinstance(data, dict) or not required <= set(data) or not set(data) <= names:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"accuracy check needs fields {sorted(required)}, got {got}")
        data["ap_drop_interval"] = tuple(data["ap_drop_interval"])
        return cls(**data)


def read_accuracy_check(path: str | Path) -> AccuracyCheck | None:
    """The check recorded in an ONNX file, or None when it has none."""
    from centerpose_core.export.onnx_export import read_metadata

    text = read_metadata(path).get(ACCURACY_CHECK_KEY)
    if text is None:
        return None
    try:
        return AccuracyCheck.from_json(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def write_accuracy_check(path: str | Path, check: AccuracyCheck) -> None:
    """Record (or replace) the check in the ONNX file's metadata, atomically."""
    import onnx

    from centerpose_core.atomic_write import atomic_path
    from centerpose_core.export.onnx_export import METADATA_PREFIX

    model = onnx.load(str(path))
    key = METADATA_PREFIX + ACCURACY_CHECK_KEY
    kept = [p for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=key, value=check.to_json())
    with atomic_path(Path(path)) as tmp:
        onnx.save(model, str(tmp))
