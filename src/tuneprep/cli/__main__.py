"""``python -m tuneprep.cli``."""

from tuneprep.cli import main

main()
