"""Start-up without garbage collection: importing PyTorch builds a million long-lived objects.

CPython's collector runs whenever enough objects have been allocated, and each full collection
walks every object alive, PyTorch's included: on a 1 MP restore, 440 collections took 0.34 s, three
full ones 0.22 s of it, all for objects that live until the process ends. So the command starts
with collection off, and once its imports and weights are loaded, :func:`start_up_done` moves
every object made so far out of the collector's sight (``gc.freeze``) and turns it back on: cycles
made while photos are processed are still collected, at the cost of walking only those.
"""

from __future__ import annotations

import gc


def begin_start_up() -> None:
    """No collections until :func:`start_up_done`."""
    gc.disable()


def start_up_done() -> None:
    """Keep what exists now out of every later collection, and collect from here on."""
    gc.freeze()
    gc.enable()
