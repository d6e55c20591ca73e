"""The auto rule (`runtime.precision.choose`), one test per row of the README's table, on described
machines and files (no hardware needed), and the one-line refusals of what a machine cannot run."""

from __future__ import annotations

import pytest

from centerpose_core.export.accuracy_check import AccuracyCheck
from centerpose_core.model_formats import CHECKPOINT, ONNX, TENSORRT_ENGINE
from centerpose_core.runtime.precision import (
    AUTO_RULES,
    Machine,
    ModelFile,
    PrecisionError,
    choose,
    table_rows,
)

ALL = frozenset({"onnxruntime", "openvino", "tensorrt"})
SAPPHIRE_RAPIDS = frozenset({"FP32", "BF16", "INT8"})  # AMX: native bf16 and VNNI
SKYLAKE_CLIENT = frozenset({"FP32", "INT8"})  # AVX2 only: no native bf16
GOOD = AccuracyCheck("a" * 64, "heldout", 600, 0.480, 0.475, (-0.002, 0.012), 0.6)
FLOAT_ONNX = ModelFile(ONNX)
CHECKED_INT8 = ModelFile(ONNX, int8=True, symmetric=True, accuracy_check=GOOD)
CHECKED_UINT8 = ModelFile(ONNX, int8=True, symmetric=False, accuracy_check=GOOD)
UNCHECKED_INT8 = ModelFile(ONNX, int8=True, symmetric=True)


def auto(machine: Machine, model: ModelFile) -> tuple[str, str]:
    choice = choose("auto", "auto", machine, model)
    return choice.backend, choice.precision


# ------------------------------------------------------------------ one test per row of AUTO_RULES


def test_row_tensorrt_int8_for_a_checked_symmetric_file_on_a_gpu_with_int8():
    assert auto(Machine(ALL, cuda_capability=(8, 7)), CHECKED_INT8) == ("tensorrt", "int8")


def test_auto_runs_a_checked_int8_file_only_on_a_cpu_runtime_its_check_names():
    """A check measured on ONNX Runtime alone says nothing about OpenVINO's kernels: `auto` then
    takes the ONNX Runtime INT8 row; a check naming both runtimes lets OpenVINO (faster) run it."""
    ort_only = AccuracyCheck("a" * 64, "heldout", 600, 0.48, 0.475, (-0.002, 0.012), 0.6, "onnxruntime")
    both = AccuracyCheck("a" * 64, "heldout", 600, 0.48, 0.475, (-0.002, 0.012), 0.6, "onnxruntime, openvino")
    cpu = Machine(ALL, SKYLAKE_CLIENT)
    assert auto(cpu, ModelFile(ONNX, int8=True, accuracy_check=ort_only)) == ("onnxruntime", "int8")
    assert auto(cpu, ModelFile(ONNX, int8=True, accuracy_check=both)) == ("openvino", "int8")
    assert both.runtimes == ("onnxruntime", "openvino") and GOOD.runtimes == ()

def test_row_tensorrt_fp16_for_a_float_model_on_a_gpu():
    assert auto(Machine(ALL, cuda_capability=(8, 7)), FLOAT_ONNX) == ("tensorrt", "fp16")
    assert auto(Machine(ALL, cuda_capability=(5, 3)), ModelFile(CHECKPOINT)) == ("tensorrt", "fp16")


def test_row_tensorrt_fp32_on_a_gpu_without_native_fp16():
    assert auto(Machine(ALL, cuda_capability=(5, 2)), FLOAT_ONNX) == ("tensorrt", "fp32")


def test_row_openvino_int8_for_a_checked_file_on_a_cpu_with_int8():
    assert auto(Machine(ALL, SKYLAKE_CLIENT), CHECKED_INT8) == ("openvino", "int8")
    # an asymmetric (uint8) file on a GPU machine: TensorRT refuses it, the CPU rows take it
    assert auto(Machine(ALL, SKYLAKE_CLIENT, (8, 7)), CHECKED_UINT8) == ("openvino", "int8")
    # ... and with the model asked onto the GPU, not OpenVINO (a CPU runtime here)
    assert auto(Machine(ALL, SKYLAKE_CLIENT, (8, 7), gpu_device=True), CHECKED_UINT8) == (
        "onnxruntime",
        "int8",
    )


def test_row_onnxruntime_int8_for_a_checked_file_without_openvino():
    assert auto(Machine(frozenset({"onnxruntime"})), CHECKED_INT8) == ("onnxruntime", "int8")


def test_row_openvino_bf16_on_a_cpu_with_native_bf16():
    assert auto(Machine(ALL, SAPPHIRE_RAPIDS), FLOAT_ONNX) == ("openvino", "bf16")


def test_row_openvino_fp32_on_a_cpu_without_native_bf16():
    assert auto(Machine(ALL, SKYLAKE_CLIENT), FLOAT_ONNX) == ("openvino", "fp32")


def test_a_gpu_device_without_tensorrt_runs_onnxruntime_not_openvino():
    machine = Machine(frozenset({"openvino", "onnxruntime"}), SAPPHIRE_RAPIDS, (8, 7), gpu_device=True)
    assert auto(machine, FLOAT_ONNX) == ("onnxruntime", "fp32")


def test_row_onnxruntime_fp32_without_openvino():
    assert auto(Machine(frozenset({"onnxruntime"})), ModelFile(CHECKPOINT)) == ("onnxruntime", "fp32")


def test_row_torch_fp32_for_a_checkpoint_with_nothing_installed():
    assert auto(Machine(), ModelFile(CHECKPOINT)) == ("torch", "fp32")


def test_every_row_is_covered_above():
    """Adding a row to AUTO_RULES without a test for it fails here (the list above is by hand)."""
    covered = {
        ("tensorrt", "int8"),
        ("tensorrt", "fp16"),
        ("tensorrt", "fp32"),
        ("openvino", "int8"),
        ("onnxruntime", "int8"),
        ("openvino", "bf16"),
        ("openvino", "fp32"),
        ("onnxruntime", "fp32"),
        ("torch", "fp32"),
    }
    assert {(rule.backend, rule.precision) for rule in AUTO_RULES} == covered


# ------------------------------------------------------------------ INT8 needs a passing check


@pytest.mark.parametrize(
    ("check", "reason"),
    [
        (None, "carries no accuracy check"),
        (AccuracyCheck("a" * 64, "h", 125, 0.48, 0.475, (-0.01, 0.02), 0.5), "125 persons"),
        (AccuracyCheck("a" * 64, "h", 600, 0.48, 0.14, (0.3, 0.38), 0.5), "34.0 points below fp32"),
        (AccuracyCheck("a" * 64, "h", 600, 0.48, 0.508, (-0.04, -0.01), 5.7), "median displacement 5.70 px"),
    ],
)
def test_auto_refuses_an_int8_file_without_a_passing_check(check, reason):
    model = ModelFile(ONNX, int8=True, symmetric=True, accuracy_check=check)
    with pytest.raises(PrecisionError, match=reason):
        choose("auto", "auto", Machine(ALL, SAPPHIRE_RAPIDS), model)
    with pytest.raises(PrecisionError, match="ask for precision 'int8'"):
        choose("openvino", "auto", Machine(ALL, SAPPHIRE_RAPIDS), model)
    # asked for explicitly, it runs
    assert choose("openvino", "int8", Machine(ALL, SAPPHIRE_RAPIDS), model).precision == "int8"


def test_accuracy_check_bounds_are_inclusive():
    """Exactly 1 AP point, 500 persons and 1 px pass (the issue's "at most")."""
    assert AccuracyCheck("a" * 64, "h", 500, 0.50, 0.4900001, (0.0, 0.02), 1.0).passes()


def test_accuracy_check_json_round_trip_and_malformed_records():
    assert AccuracyCheck.from_json(GOOD.to_json()) == GOOD
    with pytest.raises(ValueError, match="needs fields"):
        AccuracyCheck.from_json('{"persons": 3}')
    with pytest.raises(ValueError, match="not JSON"):
        AccuracyCheck.from_json("{")


# ------------------------------------------------------------------ explicit asks: run it or one clear error


def test_explicit_precision_picks_the_fastest_backend_that_runs_it():
    machine = Machine(ALL, SAPPHIRE_RAPIDS)
    assert choose("auto", "fp32", machine, FLOAT_ONNX).describe() == "openvino fp32"
    assert choose("onnxruntime", "fp32", machine, FLOAT_ONNX).describe() == "onnxruntime fp32"
    assert choose("auto", "int8", machine, UNCHECKED_INT8).describe() == "openvino int8"


@pytest.mark.parametrize(
    ("backend", "precision", "machine", "model", "message"),
    [
        ("openvino", "bf16", Machine(ALL, SKYLAKE_CLIENT), FLOAT_ONNX, "no native bf16 .*FP32, INT8"),
        ("auto", "bf16", Machine(ALL, SKYLAKE_CLIENT), FLOAT_ONNX, "precision bf16 cannot run here"),
        ("openvino", "fp16", Machine(ALL, SAPPHIRE_RAPIDS), FLOAT_ONNX, "no native fp16"),
        ("torch", "bf16", Machine(ALL, SAPPHIRE_RAPIDS), ModelFile(CHECKPOINT), "torch runs fp32 only"),
        ("onnxruntime", "bf16", Machine(ALL, SAPPHIRE_RAPIDS), FLOAT_ONNX, "onnxruntime runs fp32"),
        ("onnxruntime", "int8", Machine(ALL), FLOAT_ONNX, "needs an INT8 .*--quantize int8"),
        ("openvino", "fp32", Machine(ALL, SAPPHIRE_RAPIDS), CHECKED_INT8, "runs as int8 only"),
        ("tensorrt", "int8", Machine(ALL, cuda_capability=(8, 7)), CHECKED_UINT8, "symmetric activations"),
        ("tensorrt", "fp16", Machine(ALL, cuda_capability=(5, 2)), FLOAT_ONNX, "5.2 has no native fp16"),
        ("tensorrt", "bf16", Machine(ALL, cuda_capability=(8, 7)), FLOAT_ONNX, "fp32, fp16 or int8"),
        ("auto", "int4", Machine(ALL), FLOAT_ONNX, "precision must be one of auto, fp32, bf16, fp16, int8"),
        ("auto", "auto", Machine(frozenset({"tensorrt"})), FLOAT_ONNX, "no installed backend runs a onnx"),
    ],
)
def test_what_cannot_run_is_one_clear_error(backend, precision, machine, model, message):
    with pytest.raises(PrecisionError, match=message):
        choose(backend, precision, machine, model)


def test_an_engine_runs_in_the_precision_it_was_built_for():
    engine = ModelFile(TENSORRT_ENGINE, engine_precision="fp16")
    machine = Machine(ALL, cuda_capability=(8, 7))
    assert choose("auto", "auto", machine, engine).describe() == "tensorrt fp16"
    with pytest.raises(PrecisionError, match="built for fp16"):
        choose("tensorrt", "fp32", machine, engine)
    # an engine without our header (e.g. from trtexec) does not say: reported as such, not guessed
    assert choose("auto", "auto", machine, ModelFile(TENSORRT_ENGINE)).describe() == "tensorrt unknown"


def test_table_rows_say_why_each_row_does_not_apply_here():
    rows = dict(
        ((r.backend, r.precision), why) for r, why in table_rows(Machine(ALL, SKYLAKE_CLIENT), FLOAT_ONNX)
    )
    assert rows[("openvino", "fp32")] is None and rows[("onnxruntime", "fp32")] is None
    assert "no native bf16" in rows[("openvino", "bf16")]
    assert rows[("tensorrt", "fp16")] == "needs a GPU"
    assert "INT8 (Q/DQ) file" in rows[("openvino", "int8")]
