"""Benchmarks that print ratios against a baseline measured in the same run (`make bench`, `python -m bench.run`).

See bench/README.md. Timings live here, never in pass/fail tests.
"""
