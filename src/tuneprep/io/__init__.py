"""Readers, writers and format converters."""
