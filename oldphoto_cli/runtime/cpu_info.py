"""What the operating system says about the CPU: Linux's /proc/cpuinfo, read once per field."""

from __future__ import annotations

import functools


@functools.cache
def cpuinfo_field(name: str) -> str | None:
    """The first ``name: value`` line's value in /proc/cpuinfo ("vendor_id", "model name", …), or
    None where there is no such file (macOS, Windows) or no such field."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None
