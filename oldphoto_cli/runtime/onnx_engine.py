"""ONNX Runtime behind the :class:`~oldphoto_cli.runtime.engines.Engine` seam.

Provider choice follows the ``--device`` option: ``cpu`` is the CPU provider; ``cuda`` asks for
the CUDA provider (CPU only for the operators it lacks); ``auto`` takes CUDA when this onnxruntime
build has it. ONNX Runtime quietly falls back to the CPU when the CUDA provider cannot start (no
onnxruntime-gpu, missing or mismatched CUDA/cuDNN libraries), so after building a session we check
the providers it really uses: an explicit ``--device cuda`` that would run on the CPU is an error,
and :attr:`OnnxEngine.active_providers` lets the CLI say what runs in every case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from oldphoto_cli.errors import ProviderUnavailableError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
# The two wheels install the same module and cannot live together (microsoft/onnxruntime#26996).
CUDA_HOW_TO = (
    "replace onnxruntime by onnxruntime-gpu (pip uninstall onnxruntime, then pip install onnxruntime-gpu) "
    "with the CUDA and cuDNN libraries it needs, or use --device cpu"
)


def requested_providers(device: str) -> list[str]:
    """The providers to ask for, in order of preference; fails early when ``device`` cannot be served."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    if device == "cuda":
        if CUDA not in available:
            raise ProviderUnavailableError(
                f"--device cuda with --runtime onnx needs ONNX Runtime's {CUDA}, which this onnxruntime "
                f"build lacks (it has {', '.join(available)}); {CUDA_HOW_TO}"
            )
        return [CUDA, CPU]
    raise ProviderUnavailableError(
        f"--device {device} has no ONNX Runtime provider in oldphoto; use --device cpu, cuda or auto, "
        "or --runtime torch"
    )


class OnnxEngine:
    """One ``.onnx`` network in an ONNX Runtime session: torch tensors in, a torch tensor out."""

    def __init__(self, name: str, path: Path, device: str = "auto") -> None:
        import onnxruntime as ort

        self.name = name
        self.path = Path(path)
        self.session = ort.InferenceSession(
            str(self.path), sess_options=_session_options(), providers=requested_providers(device)
        )
        self.active_providers: list[str] = self.session.get_providers()
        if device == "cuda" and CUDA not in self.active_providers:
            raise ProviderUnavailableError(
                f"--device cuda: ONNX Runtime could not start its {CUDA} for {self.path.name} (CUDA or "
                f"cuDNN libraries missing or mismatched) and would run on the CPU; {CUDA_HOW_TO}"
            )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.input_names):
            raise TypeError(f"{self.name} takes {len(self.input_names)} inputs, got {len(inputs)}")
        feeds = {name: _as_array(x) for name, x in zip(self.input_names, inputs)}
        (output,) = self.session.run([self.output_name], feeds)
        return torch.from_numpy(output)


def _session_options():
    """Every graph optimisation; default thread counts; only errors logged (we report the rest);
    denormals flushed to zero in the session's threads (slow on Intel CPUs: runtime/denormals.py)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    return options


def _as_array(x: torch.Tensor) -> np.ndarray:
    """A float32, C-contiguous NumPy array, as ONNX Runtime wants its inputs."""
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
