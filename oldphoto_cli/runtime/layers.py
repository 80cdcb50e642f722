"""Where a layer sits in a loaded network, for the runtime's layer swaps.

Only an ``nn.Sequential`` says in what order its children run; anywhere else the order in which
children were registered is no evidence of data flow, so no swap may rely on it there.
"""

from __future__ import annotations

from torch import nn


def children_with_predecessors(
    module: nn.Module,
) -> list[tuple[str, nn.Module, tuple[str, nn.Module] | None]]:
    """``module``'s children as (name, child, (name, layer) run right before it, or None)."""
    children = list(module.named_children())
    ordered = isinstance(module, nn.Sequential)
    return [
        (name, child, children[index - 1] if ordered and index else None)
        for index, (name, child) in enumerate(children)
    ]
