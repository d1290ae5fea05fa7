"""reward-service: multi-signal math rewards for RL fine-tuning, as a library and a service."""

__version__ = "0.4.0"
"""The one place the version lives: the package metadata reads it (pyproject.toml), and the
service reports it in ``scorer_version``, installed or run from a checkout."""
