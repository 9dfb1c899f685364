"""The generator: from a model repository's files to an ``ONNX_HUB_MANIFEST.json``
(collectors find the entries, the facts step reads the files, the pipeline
assembles and writes the manifest). It must not download anything nor check a
manifest: validation is :mod:`hubtools.validate`'s job.
"""
