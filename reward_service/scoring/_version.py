"""The scorer's version: every installed component that can change a verdict."""

from __future__ import annotations

import functools
import platform
from importlib.metadata import PackageNotFoundError, version

import reward_service

VERDICT_COMPONENTS = (
    "math-verify",
    "latex2sympy2_extended",
    "antlr4-python3-runtime",
    "sympy",
    "mpmath",
)
"""The distributions a verdict depends on: the verifier, its LaTeX parser, the parser's
runtime (latex2sympy2_extended ships one parser per ANTLR runtime), the computer algebra
and its arbitrary-precision arithmetic."""


def _installed(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


@functools.cache
def scorer_version() -> str:
    """What scored a verdict, for logs and caches: this package, each distribution in
    :data:`VERDICT_COMPONENTS` and the Python interpreter, with their versions.

    ``"reward-service 0.4.0; math-verify 0.9.0; latex2sympy2_extended 1.11.0;
    antlr4-python3-runtime 4.13.2; sympy 1.14.0; mpmath 1.3.0; python 3.11.7"``
    """
    parts = [f"reward-service {reward_service.__version__}"]
    parts += [f"{name} {_installed(name)}" for name in VERDICT_COMPONENTS]
    parts.append(f"python {platform.python_version()}")
    return "; ".join(parts)
