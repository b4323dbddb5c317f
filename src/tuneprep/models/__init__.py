"""Model registry and loading (offline defaults), prompt templates."""
