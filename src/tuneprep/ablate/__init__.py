"""``tuneprep ablate``: which data decision helped? Variants of a recipe, trained and scored on one fixed test set.

Library entry points: ``tuneprep.ablate.config.load_experiment`` and
``tuneprep.ablate.runner.run_experiment``. Nothing is imported here, so that registering the CLI
verb stays cheap.
"""
