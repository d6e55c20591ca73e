"""Which backend and arithmetic precision run a model: the `auto` rule and the checks of an explicit ask.

The rule is a pure function (`choose`) of three things, so each row is tested without the hardware:
  * `Machine`: the runtimes installed, the CPU's native precisions as OpenVINO reports them
    (`OPTIMIZATION_CAPABILITIES`: BF16, FP16, INT8) and the CUDA compute capability of the GPU;
  * `ModelFile`: the model's format, whether it is an INT8 (Q/DQ) file and the accuracy check it
    carries (`export.accuracy_check`);
  * what was asked: a backend (or `auto`) and a precision (or `auto`).

`auto` picks the first row of `AUTO_RULES` that applies, in the order of measured speed
(README, "Which backend and precision `auto` runs"): an INT8 file only with a passing accuracy
check, reduced float precision only where the hardware runs it natively. An explicit precision a
backend or the machine cannot run is one PrecisionError naming what can run; nothing falls back.
`probe_machine` and `inspect_model_file` read the real machine and file (lazily importing the
runtimes); everything else here is plain Python.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from centerpose_core.export.accuracy_check import AccuracyCheck
from centerpose_core.model_formats import (
    AUTO,
    AUTO_PRECISION,
    CHECKPOINT,
    MODULE,
    ONNX,
    PRECISIONS,
    TENSORRT_ENGINE,
    TORCH2TRT_MODULE,
    backend_spec,
    model_format,
)

OPTIONAL_RUNTIMES = ("onnxruntime", "openvino", "tensorrt", "torch2trt")
FP16_CAPABILITY = (5, 3)  # TensorRT's native FP16
INT8_CAPABILITY = (6, 1)  # TensorRT's INT8 (DP4A and later)


class PrecisionError(ValueError):
    """The asked backend / precision cannot run this model on this machine (the message says what can)."""


@dataclass(frozen=True)
class Machine:
    """What is installed and what the hardware runs natively.

    runtimes: importable optional runtimes (`OPTIONAL_RUNTIMES`; torch is always there).
    cpu: OpenVINO's CPU OPTIMIZATION_CAPABILITIES (e.g. {"FP32", "BF16", "INT8"}); empty without OpenVINO.
    cuda_capability: (major, minor) of the GPU (the device's, else the current one); None without one.
        TensorRT runs on the GPU whatever `device` says (it names the torch / decode device), as
        `auto` always did.
    gpu_device: the asked device is a GPU (OpenVINO, a CPU runtime here, is then not chosen).
    """

    runtimes: frozenset[str] = frozenset()
    cpu: frozenset[str] = frozenset()
    cuda_capability: tuple[int, int] | None = None
    gpu_device: bool = False


@dataclass(frozen=True)
class ModelFile:
    """What the model says about itself: format, INT8 (Q/DQ) or not, symmetric activations
    (TensorRT's only Q/DQ form), its accuracy check, and for a TensorRT engine its built precision."""

    format: str
    int8: bool = False
    symmetric: bool = False
    accuracy_check: AccuracyCheck | None = None
    engine_precision: str | None = None

    @property
    def checked_int8(self) -> bool:
        return self.int8 and self.accuracy_check is not None and self.accuracy_check.passes()


@dataclass(frozen=True)
class Choice:
    backend: str
    precision: str
    rule: str = ""  # the AUTO_RULES row (or "asked") that decided it

    def describe(self) -> str:
        return f"{self.backend} {self.precision}"


@dataclass(frozen=True)
class Rule:
    """One row of the auto table: a backend and precision, and when it applies."""

    backend: str
    precision: str
    when: str
    gpu: bool = False
    int8_file: bool = False


# In order of measured speed (README table; CPU rows measured on this 2-core AVX512-BF16/VNNI machine).
AUTO_RULES: tuple[Rule, ...] = (
    Rule(
        "tensorrt",
        "int8",
        "GPU >= 6.1, TensorRT, symmetric Q/DQ file with a passing accuracy check",
        True,
        True,
    ),
    Rule("tensorrt", "fp16", "GPU >= 5.3, TensorRT, float model", True),
    Rule("tensorrt", "fp32", "GPU below 5.3, TensorRT, float model", True),
    Rule(
        "openvino", "int8", "CPU with INT8, OpenVINO, Q/DQ file with a passing accuracy check", int8_file=True
    ),
    Rule("onnxruntime", "int8", "ONNX Runtime, Q/DQ file with a passing accuracy check", int8_file=True),
    Rule("openvino", "bf16", "CPU with native BF16 (AVX512-BF16 / AMX), OpenVINO, float model"),
    Rule("openvino", "fp32", "OpenVINO, float model"),
    Rule("onnxruntime", "fp32", "ONNX Runtime, float model"),
    Rule("torch", "fp32", "checkpoint or module (nothing else installed)"),
)


def runnable(
    backend: str, precision: str, machine: Machine, model: ModelFile, *, installed: bool = True
) -> str | None:
    """None when `backend` runs `model` in `precision` on `machine`, else why not (one phrase).

    installed=False skips the checks that need the runtime (an explicitly named backend that is
    missing fails in its own factory, with its own install hint)."""
    if model.format not in backend_spec(backend).formats:
        return f"backend {backend} cannot read a {model.format}"
    if backend != "torch" and backend not in machine.runtimes:
        if installed:
            return f"{backend} is not installed"
        machine = Machine(
            machine.runtimes, frozenset({"FP32", "BF16", "FP16", "INT8"}), machine.cuda_capability
        )
    if model.int8 and precision != "int8":
        return "the file is INT8 (Q/DQ); it runs as int8 only (use the fp32 file for float precisions)"
    if precision == "int8" and not model.int8 and backend != "tensorrt":
        return "int8 needs an INT8 (Q/DQ) file: centerpose export --quantize int8"
    gpu = machine.cuda_capability
    if backend == "torch":
        return None if precision == "fp32" else "backend torch runs fp32 only"
    if backend == "onnxruntime":
        return (
            None if precision in ("fp32", "int8") else "onnxruntime runs fp32 (or int8 from a Q/DQ file) only"
        )
    if backend == "openvino":
        native = {"fp32": "FP32", "bf16": "BF16", "fp16": "FP16", "int8": "INT8"}
        if precision != "fp32" and native[precision] not in machine.cpu:
            have = ", ".join(sorted(machine.cpu)) or "none reported"
            return f"this CPU has no native {precision} (OpenVINO CPU capabilities: {have})"
        return None
    if backend == "tensorrt":
        if model.format == TENSORRT_ENGINE:
            built = model.engine_precision
            return None if built in (None, precision) else f"the engine was built for {built}"
        if precision == "bf16":
            return "backend tensorrt builds fp32, fp16 or int8 engines"
        if model.int8 and not model.symmetric:
            return "TensorRT takes Q/DQ files with symmetric activations only (export without --uint8)"
        if gpu is not None:
            need = {"fp16": FP16_CAPABILITY, "int8": INT8_CAPABILITY}.get(precision)
            if need and gpu < need:
                have, needs = f"{gpu[0]}.{gpu[1]}", f"{need[0]}.{need[1]}"
                return f"GPU compute capability {have} has no native {precision} (needs {needs})"
        return None
    if backend == "torch2trt":
        return None if precision in ("fp32", "fp16") else "backend torch2trt builds fp32 or fp16 modules"
    return f"unknown backend {backend}"


# CPU runtimes an accuracy check can be measured on: `auto` runs an INT8 file on one of them only when
# the file's check names it (a record that names no runtime predates the field and is taken as is).
# TensorRT needs a GPU to measure; its row relies on the CPU runtimes' check of the same file.
CHECKED_RUNTIMES = ("onnxruntime", "openvino")


def _measured_on(backend: str, check: AccuracyCheck | None) -> bool:
    if check is None or backend not in CHECKED_RUNTIMES or not check.runtimes:
        return True
    return backend in check.runtimes


def _rule_applies(rule: Rule, machine: Machine, model: ModelFile) -> bool:
    if _device_mismatch(rule, machine) or rule.int8_file != model.int8:
        return False
    if rule.int8_file and not model.checked_int8:
        return False
    if rule.int8_file and not _measured_on(rule.backend, model.accuracy_check):
        return False
    if rule.backend == "tensorrt" and rule.precision == "fp32" and machine.cuda_capability >= FP16_CAPABILITY:
        return False
    return runnable(rule.backend, rule.precision, machine, model) is None


def _device_mismatch(rule: Rule, machine: Machine) -> str | None:
    """GPU rows need a GPU; OpenVINO runs on the CPU only, so not for a model asked onto a GPU
    (ONNX Runtime and torch rows run either way: after the GPU rows, they take what TensorRT cannot)."""
    if rule.gpu and machine.cuda_capability is None:
        return "needs a GPU"
    if rule.backend == "openvino" and machine.gpu_device:
        return "runs on the CPU only (the device is a GPU)"
    return None


def _unchecked_int8(model: ModelFile) -> PrecisionError:
    check = model.accuracy_check
    why = (
        "carries no accuracy check"
        if check is None
        else "fails its accuracy check: " + "; ".join(check.failures())
    )
    return PrecisionError(
        f"this INT8 (Q/DQ) file {why}; precision 'auto' runs INT8 only with a passing check "
        "(centerpose export --quantize int8 --heldout DIR records one); ask for precision 'int8' to run it "
        "anyway"
    )


def choose(backend: str, precision: str, machine: Machine, model: ModelFile) -> Choice:
    """The backend and precision to run (see the module docstring); PrecisionError when nothing fits."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if model.format == TENSORRT_ENGINE or model.format == TORCH2TRT_MODULE:
        name = "tensorrt" if model.format == TENSORRT_ENGINE else "torch2trt"
        backend = name if backend == AUTO else backend
        if precision == AUTO_PRECISION:
            # an engine without our header (trtexec) or a saved torch2trt module does not say
            return Choice(backend, model.engine_precision or "unknown", "the file's own precision")
        why = runnable(backend, precision, machine, model, installed=False)
        if why:
            raise PrecisionError(f"{backend} {precision}: {why}")
        return Choice(backend, precision, "asked")
    if precision == AUTO_PRECISION and model.int8 and not model.checked_int8:
        raise _unchecked_int8(model)
    candidates = [
        rule
        for rule in AUTO_RULES
        if (backend == AUTO or rule.backend == backend)
        and (precision == AUTO_PRECISION or rule.precision == precision)
    ]
    if precision == AUTO_PRECISION:
        for rule in candidates:
            if _rule_applies(rule, machine, model):
                return Choice(rule.backend, rule.precision, rule.when)
        if backend != AUTO:  # an explicit backend on a machine no row covers (e.g. tensorrt without a GPU)
            fallback = "int8" if model.int8 else "fp16" if backend in ("tensorrt", "torch2trt") else "fp32"
            why = runnable(backend, fallback, machine, model, installed=False)
            if why is None:
                return Choice(backend, fallback, "the backend's default")
            raise PrecisionError(f"backend {backend}: {why}")
    else:
        names = [backend] if backend != AUTO else list(dict.fromkeys(rule.backend for rule in AUTO_RULES))
        reasons = []
        for name in names:
            if name not in _backends_for(model.format):
                continue
            gpu_only = name in ("tensorrt", "torch2trt")
            if backend == AUTO and gpu_only and machine.cuda_capability is None:
                continue
            if backend == AUTO and name == "openvino" and machine.gpu_device:
                continue
            why = runnable(name, precision, machine, model, installed=backend == AUTO)
            if why is None:
                return Choice(name, precision, "asked")
            reasons.append(f"{name}: {why}")
        if reasons:
            raise PrecisionError(f"precision {precision} cannot run here ({'; '.join(reasons)})")
    installed = ", ".join(sorted(machine.runtimes)) or "torch only"
    raise PrecisionError(f"no installed backend runs a {model.format} (installed: {installed})")


def _backends_for(fmt: str) -> tuple[str, ...]:
    from centerpose_core.model_formats import BACKENDS

    return tuple(spec.name for spec in BACKENDS if fmt in spec.formats)


# Keypoint AP cost of each float precision, in AP points (README, "INT8 and bf16"; INT8's comes from
# the file's own accuracy check). None: not measured on this project's reference model.
MEASURED_AP_COST: dict[tuple[str, str], float | None] = {
    ("torch", "fp32"): 0.0,
    ("onnxruntime", "fp32"): 0.0,  # torch's AP to the digit
    ("openvino", "fp32"): 0.0,
    ("openvino", "bf16"): -0.8,  # reference model, 125 held-out persons (measured under shared load)
    ("tensorrt", "fp32"): None,
    ("tensorrt", "fp16"): None,
}


def ap_cost(backend: str, precision: str, model: ModelFile) -> float | None:
    """AP points lost against fp32 (negative: lower), as measured; None when unknown."""
    if precision == "int8":
        check = model.accuracy_check
        return None if check is None else round(-check.ap_drop * 100, 2)
    return MEASURED_AP_COST.get((backend, precision))


def table_rows(machine: Machine, model: ModelFile) -> list[tuple[Rule, str | None]]:
    """Every AUTO_RULES row with None where it could run this model here, else why not (bench --all)."""
    rows = []
    for rule in AUTO_RULES:
        why = runnable(rule.backend, rule.precision, machine, model)
        if why is None:
            why = _device_mismatch(rule, machine)
        if why is None and rule.int8_file and not model.checked_int8:
            why = "the INT8 file has no passing accuracy check"
        rows.append((rule, why))
    return rows


# ------------------------------------------------------------------ reading the real machine and file


def probe_machine(device: str = "cpu") -> Machine:
    """The installed runtimes, OpenVINO's CPU capabilities and the GPU's CUDA capability."""
    runtimes = frozenset(name for name in OPTIONAL_RUNTIMES if _importable(name))
    cpu: frozenset[str] = frozenset()
    if "openvino" in runtimes:
        from centerpose_core.runtime.openvino_backend import cpu_capabilities

        cpu = frozenset(cpu_capabilities())
    capability = None
    gpu_device = str(device).startswith("cuda")
    import torch

    if torch.cuda.is_available():
        index = (torch.device(device).index or 0) if gpu_device else torch.cuda.current_device()
        capability = tuple(torch.cuda.get_device_capability(index))
    return Machine(runtimes, cpu, capability, gpu_device)


def _importable(name: str) -> bool:
    if name in sys.modules:  # a stand-in module put there by a test, or None: import blocked
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def inspect_model_file(model: object) -> ModelFile:
    """The ModelFile of a module, checkpoint, ONNX file (Q/DQ nodes, symmetry, accuracy check) or engine."""
    fmt = model_format(model)
    if fmt in (MODULE, CHECKPOINT, TORCH2TRT_MODULE):
        return ModelFile(fmt)
    path = Path(model)
    if not path.is_file():
        return ModelFile(fmt)  # the backend's factory reports the missing file in its own words
    if fmt == TENSORRT_ENGINE:
        from centerpose_core.export.tensorrt_cache import read_engine

        key, _ = read_engine(path)
        return ModelFile(fmt, engine_precision=key.precision if key is not None else None)
    if fmt == ONNX:
        import onnx

        from centerpose_core.export.accuracy_check import read_accuracy_check

        graph = onnx.load(str(path), load_external_data=False).graph
        quantizers = [node for node in graph.node if node.op_type == "QuantizeLinear"]
        int8 = bool(quantizers)
        symmetric = int8 and _all_signed(graph, quantizers)
        check = read_accuracy_check(path) if int8 else None
        return ModelFile(fmt, int8=int8, symmetric=symmetric, accuracy_check=check)
    return ModelFile(fmt)


def _all_signed(graph, quantizers) -> bool:
    """Every QuantizeLinear writes int8 (its zero point's type): TensorRT's symmetric form."""
    from onnx import TensorProto

    types = {init.name: init.data_type for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute:
            types.setdefault(node.output[0], node.attribute[0].t.data_type)
    return all(len(q.input) > 2 and types.get(q.input[2]) == TensorProto.INT8 for q in quantizers)
