"""Executors: local parallel streaming engine, stats, rejects, resume."""
