"""File names of a recipe run's output directory (docs/architecture.md, "Run layout").

Written by the engine; read by training (the recorded inputs), evaluation (finding test data)
and the report loader. Defined here once.
"""

STATS = "stats.json"
MANIFEST = "manifest.json"
REJECTS_DIR = "rejects"
