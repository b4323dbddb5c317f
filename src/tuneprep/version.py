"""The package version, in a leaf module so that the engine can stamp manifests without importing the facade."""

__version__ = "0.1.0"
