"""The client: settings, repository specs, manifests, trust, transport, cache,
and the :class:`~hubtools.client.hub.Hub` that ties them together. The
``onnx.hub``-compatible functions are in :mod:`hubtools.hub`; nothing here
prints or reads from the terminal except through an injected prompt."""
