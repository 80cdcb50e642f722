"""Networks to portable files: ONNX with free height and width, for any runtime that reads it.

- ``onnx_export.export_module``: any ``nn.Module`` (ours, the published ones, those we train later)
  given example inputs and their names.
- ``stage_one_export.export_stage_one``: the published stage-1 checkpoints, one file per network.
- ``onnx_cache``: those exports made on first use and kept in oldphoto's cache.
- ``stage_one_onnx.onnx_networks``: stage 1 as ONNX Runtime engines, for ``restore --runtime onnx``.
- ``model_export.export_model``: the one call behind ``oldphoto export``.
- ``manifest``: ``onnx_manifest.json``, each file's source checkpoint and exporter.

Nothing is imported here, so that ``oldphoto export`` can fail on a bad option before loading torch.
"""
