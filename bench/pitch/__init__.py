"""The pitch read benchmark: see bench/README.md."""
