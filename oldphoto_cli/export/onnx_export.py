"""Any ``nn.Module`` to an ONNX file whose height and width are free.

The networks are traced once, on example inputs, by PyTorch's TorchScript-based exporter
(``dynamo=False``: it needs no extra packages and handles every network we have). Marking the
height and width of every 4-D input and output as dynamic axes makes one file serve every photo
size; networks with shape-dependent Python control flow provide a traceable form under
``torch.onnx.is_in_onnx_export()`` (see networks/nonlocal_mapping.py, networks/patch_attention.py).
Tracing runs the network, so small example inputs make a fast export; it runs on one thread, since
tiny tensors gain nothing from more and a busy machine makes threads wait on each other.

The file is written to a temporary name beside the target, checked with ``onnx.checker`` and only
then renamed, so a cache or an export folder never holds a truncated or invalid model.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from oldphoto_cli.errors import ExportError
from oldphoto_cli.io.atomic import temp_path_for

OPSET = 17
OUTPUT_NAMES = ("output",)


def export_module(
    module: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    input_names: Sequence[str],
    path: Path,
    dynamic_hw: bool = True,
    output_names: Sequence[str] = OUTPUT_NAMES,
) -> Path:
    """Trace ``module`` (in eval mode) on ``example_inputs`` and write it to ``path`` as ONNX.

    Every 4-D input and output gets its own named height and width axes (``latent_height``,
    ``mask_width``...), since a network's inputs need not share a size (a mask is 4× its latent).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{path.parent}: cannot create the folder: {exc.strerror or exc}") from exc
    module = module.eval()
    example = tuple(example_inputs)
    temp = temp_path_for(path)
    try:
        with _one_thread():
            axes = _dynamic_axes(module, example, input_names, output_names) if dynamic_hw else {}
            _trace_to(temp, module, example, input_names, output_names, axes)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, Exception):
            reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise ExportError(f"{path}: ONNX export of {type(module).__name__} failed: {reason}") from exc
        raise
    os.replace(temp, path)
    return path


def hw_axes(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> dict[str, dict[int, str]]:
    """``{name: {2: 'name_height', 3: 'name_width'}}`` for each 4-D (NCHW) tensor."""
    return {
        name: {2: f"{name}_height", 3: f"{name}_width"}
        for name, tensor in zip(names, tensors)
        if tensor.dim() == 4
    }


def _trace_to(
    temp: Path,
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    input_names: Sequence[str],
    output_names: Sequence[str],
    axes: dict[str, dict[int, str]],
) -> None:
    """Export and check; the exporter's notes on traced shapes are expected here, so kept quiet."""
    import onnx

    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        torch.onnx.export(
            module,
            example,
            str(temp),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(str(temp))


def _dynamic_axes(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    input_names: Sequence[str],
    output_names: Sequence[str],
) -> dict[str, dict[int, str]]:
    """Height and width axes of the 4-D inputs and outputs (running the module once to see them)."""
    with torch.no_grad():
        outputs = module(*example)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return hw_axes(input_names, example) | hw_axes(output_names, outputs)


@contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
