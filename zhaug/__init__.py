"""zhaug: Chinese text data augmentation, ALBERT fine-tuning and robustness auditing."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zhaug")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
