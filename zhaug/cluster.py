"""Ray, the distributed engine of ``--engine ray``: connecting, and ordered Ray Data execution.

Ray is an optional dependency (``pip install 'zhaug[distributed]'``); nothing imports it until
an engine asks for it.
"""

from __future__ import annotations

import logging
from types import ModuleType

from zhaug.errors import ZhaugError


def connect(address: str | None = None) -> ModuleType:
    """The ``ray`` module, connected to the cluster at ``address`` (``"auto"``: the one ``ray start``
    began on this machine) or, without an address, to a fresh local one. Ray Data keeps row order."""
    try:
        import ray
    except ImportError:
        raise ZhaugError("--engine ray needs Ray: pip install 'zhaug[distributed]'") from None
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    return ray


def cluster_cpus(ray: ModuleType) -> int:
    """CPUs in the connected cluster (at least 1): the default number of Ray workers."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
