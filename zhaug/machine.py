"""What this process may use of the machine."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity (``taskset``, container limits) where the OS
    reports one, else the machine's count; a study pinned to one core must not start two threads."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
