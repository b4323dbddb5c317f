"""select operators."""
