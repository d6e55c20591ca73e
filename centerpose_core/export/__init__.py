"""Export of the pose network and the fast-runtime tooling built on it. May use the model; never
the runtime (the runtime uses what export produces).

options              ExportOptions / BuildOptions and their choices, validated up front (pure Python)
onnx_export          model/checkpoint -> one self-contained ONNX file (native DeformConv at opset 19, or
                     the decomposed DCN at opset 17), validated, with runtime metadata
onnx_checks          is an ONNX file a centerpose network, for which input size (used by every runtime)
flatten              HeadsAsTuple: the dict of heads as a tuple for tracers and converters
decomposed_dcn       DCNv2 in plain ops (gathers + matmul) for TensorRT 8.5 / 8.6, swapped in at export
tensorrt_compat      static report: which TensorRT releases parse a given ONNX file
cache                export-on-first-use cache for .pth / nn.Module inputs of the ONNX Runtime backend
tensorrt_build       TensorRT engine build (FP16 / FP32 / INT8) + per-device engine cache
tensorrt_cache       engine cache keys and engine-file headers (pure Python)
tensorrt_calibrator  INT8 calibration batches from an image folder + TensorRT entropy calibrator
"""
