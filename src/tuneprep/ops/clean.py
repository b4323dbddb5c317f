"""clean operators."""
