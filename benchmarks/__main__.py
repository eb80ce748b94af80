"""``python -m benchmarks <scenario>``: run a benchmark scenario and print its table."""

from __future__ import annotations

from benchmarks.cli import main

if __name__ == "__main__":
    main()
