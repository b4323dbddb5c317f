"""Annotation operators (``annotate.<method>``) for recipes. Filled in by the annotation area."""
