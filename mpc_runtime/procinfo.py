"""This process's own resource use, for reports (party ``--json`` output, benchmarks).

May import: the standard library only.
"""

from __future__ import annotations

import resource
from pathlib import Path

__all__ = ["peak_rss_bytes"]


def peak_rss_bytes() -> int:
    """This process's peak resident memory, in bytes.

    Linux's ``VmHWM`` from ``/proc/self/status``: it starts afresh at ``exec``.  ``ru_maxrss``
    does not: a process started by a large parent (a demo holding a million prepared inputs)
    reports the parent's peak as its own, so it is only the fallback elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
