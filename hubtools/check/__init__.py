"""Model CI: whether a hub's models load and compute what their test data says
(onnx.checker, then onnxruntime on every ``test_data_set_*``), each model in
a worker process. Nothing here prints; the CLI renders the verdicts."""
