"""reward-service: multi-signal math rewards for RL fine-tuning, as a library and a service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reward-service")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
