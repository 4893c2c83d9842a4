"""``make bench``: how fast the provider fetches, rate-limits, loads and imports.

Run from the repository root with ``python -m benchmarks``; see :mod:`benchmarks.run`.
"""
