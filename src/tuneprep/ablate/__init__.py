"""``tuneprep ablate``: which data decision helped? Variants of a recipe, trained and scored on one fixed test set."""

from tuneprep.ablate.config import AblateError, Experiment, load_experiment

__all__ = ["AblateError", "Experiment", "load_experiment"]
