"""The feedback ingest benchmark: see bench/ingest/run.py and docs/benchmarks.md."""
