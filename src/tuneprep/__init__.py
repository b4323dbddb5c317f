"""tuneprep: raw domain text to a fine-tuned, evaluated language model, every data decision audited."""

__version__ = "0.1.0"
