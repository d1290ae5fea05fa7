"""Benchmarks and measurements, each a script run from the repository root as its docstring
says; results in RESULTS.md and MEMORY.md."""
