"""Benchmarks of the central server (run as scripts; see benchmarks/README.md)."""
