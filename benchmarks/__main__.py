"""``python -m benchmarks``: run every benchmark, print the table, exit 1 if a target is missed."""

from __future__ import annotations

if __name__ == "__main__":  # not when multiprocessing's spawn re-imports the main module
    import sys

    from benchmarks.run import main

    sys.exit(main())
