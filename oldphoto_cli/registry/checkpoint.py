"""Strict loading of pickled checkpoint files into our networks.

The published files are pickled state dicts; we unpickle them only with
``torch.load(..., weights_only=True)`` (tensors and plain containers, no code). The detection file
keeps its state dict under ``model_state``; files saved from ``DataParallel`` prefix keys with
``module.``. Loading is strict: a missing or unexpected key is an error naming the file, never a
network silently running with random weights.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from oldphoto_cli.errors import WeightsError

WRAPPER_KEYS = ("model_state", "state_dict", "model")
STRIPPED_PREFIXES = ("module.",)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Unpickle ``path`` safely and return its state dict, unwrapped and canonicalised."""
    try:
        obj = _unpickle(path)
    except FileNotFoundError as exc:
        raise WeightsError(f"{path}: weight file not found") from exc
    except Exception as exc:  # a corrupt or non-checkpoint file: torch raises many kinds
        raise WeightsError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    for key in WRAPPER_KEYS:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: does not contain a state dict of tensors")
    return {_canonical_key(k): v for k, v in obj.items()}


def _unpickle(path: Path) -> object:
    """``torch.load`` memory-mapping the file where its format allows (zip archives, PyTorch ≥ 1.6):
    tensors then read straight from the page cache instead of being copied into fresh memory. The
    legacy (pre-zip) format cannot be mapped; asking first reads a corrupt file only once."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))


def _canonical_key(key: str) -> str:
    for prefix in STRIPPED_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def load_into(network: nn.Module, state_dict: dict[str, torch.Tensor], source: Path | str) -> nn.Module:
    """Load strictly and put the network in eval mode; report key or shape mismatches by file."""
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = [k for k in expected if k in state_dict and state_dict[k].shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        raise WeightsError(
            f"{source}: does not fit {type(network).__name__}"
            + _listing("missing", missing)
            + _listing("unexpected", unexpected)
            + _listing("wrong shape", wrong_shape)
        )
    # adopt the loaded tensors (no copy of the weights), in the network's own dtypes and devices
    adopted = {k: v.to(expected[k].device, expected[k].dtype) for k, v in state_dict.items()}
    network.load_state_dict(adopted, strict=True, assign=True)
    return network.eval()


def _listing(label: str, keys: list[str]) -> str:
    if not keys:
        return ""
    shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return f"; {label}: {shown}"


# The initialisers PyTorch's layers call from ``reset_parameters`` (convolutions, linear layers).
SKIPPED_INITIALISERS = ("kaiming_uniform_", "uniform_", "normal_", "xavier_uniform_", "zeros_", "ones_")


@contextmanager
def uninitialised() -> Iterator[None]:
    """Inside, new layers skip their random initialisation, which a checkpoint overwrites anyway.

    Drawing random weights for the stage-1 networks took a second of every start (kaiming_uniform_
    over 100 M parameters). The same idea as transformers' ``no_init_weights``; only for networks
    loaded strictly right after, so no parameter keeps its uninitialised memory.
    """
    saved = {name: getattr(nn.init, name) for name in SKIPPED_INITIALISERS}
    try:
        for name in SKIPPED_INITIALISERS:
            setattr(nn.init, name, _keep)
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def _keep(tensor: torch.Tensor, *_args: object, **_kwargs: object) -> torch.Tensor:
    return tensor


def load_checkpoint(network: nn.Module, path: Path) -> nn.Module:
    """Read ``path`` and load it strictly into ``network``."""
    return load_into(network, read_state_dict(path), path)
