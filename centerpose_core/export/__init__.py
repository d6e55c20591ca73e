"""Export of the pose network and the fast-runtime tooling built on it. May use the model; never
the runtime (the runtime uses what export produces).

options              ExportOptions / BuildOptions and their choices, validated up front (pure Python)
onnx_export          model/checkpoint -> one self-contained ONNX file (native DeformConv at opset 19, or
                     the decomposed DCN at opset 17), validated, with runtime metadata
onnx_checks          is an ONNX file a centerpose network, for which input size (used by every runtime)
flatten              HeadsAsTuple: the dict of heads as a tuple for tracers and converters
decomposed_dcn       DCNv2 in plain ops (gathers + matmul) for TensorRT 8.5 / 8.6, swapped in at export
quantize             INT8 Q/DQ ONNX files (ONNX Runtime static quantization) for every runtime
cache                export-on-first-use cache for .pth / nn.Module inputs of the ONNX Runtime backend
tensorrt/            TensorRT engines: build, engine cache, release differences, compatibility report,
                     INT8 calibration (see its __init__ for what the rest of the code may call)
"""
