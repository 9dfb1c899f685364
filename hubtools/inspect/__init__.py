"""Facts about ONNX model files, read without loading their weights.

:mod:`~hubtools.inspect.facts` gives a file's facts (sha256, size, IR
version, opsets, io_ports, external data), :mod:`~hubtools.inspect.wire`
streams the protobuf wire format without keeping weights, and
:mod:`~hubtools.inspect.ioports` reports io_ports the way onnxruntime does.
The package only reads: it never writes files, never opens external data and
never imports onnxruntime.
"""
