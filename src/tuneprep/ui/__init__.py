"""Everything tuneprep prints: consoles, tables, progress, third-party noise, JSON event logs.

Half of tuneprep's runs are not in a terminal (``make demo > log``, CI, schedulers), so every
piece here has two forms: a rich one for a terminal and a plain one for pipes and files.
"""

from tuneprep.ui.console import Column, is_terminal, make_console, print_table, settings
from tuneprep.ui.events import emit
from tuneprep.ui.noise import quiet_third_party
from tuneprep.ui.progress import make_progress

__all__ = ["Column", "emit", "is_terminal", "make_console", "make_progress", "print_table",
           "quiet_third_party", "settings"]
