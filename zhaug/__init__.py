"""zhaug: Chinese text data augmentation, ALBERT fine-tuning and robustness auditing."""

import os
from importlib.metadata import PackageNotFoundError, version

# Idle OpenMP threads sleep instead of spinning: on a busy, shared CPU, spinning threads made
# training steps many times slower. It must be set before torch is imported, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("zhaug")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
