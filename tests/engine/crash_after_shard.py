"""Run ``tuneprep`` and SIGKILL the whole process group right after shard N is recorded as done.

Test-only fault injection (the engine has no hook of its own): ``python crash_after_shard.py N
run RECIPE ...`` wraps ``process_shard`` of the engine and then starts the CLI.
"""

from __future__ import annotations

import os
import sys

import tuneprep.engine.local as local
from tuneprep.cli import main

CRASH_AFTER = int(sys.argv.pop(1))
_process_shard = local.process_shard


def process_shard_then_crash(shard, recipe_json, work):
    result = _process_shard(shard, recipe_json, work)
    if shard.index == CRASH_AFTER:
        os.killpg(os.getpgrp(), 9)
    return result


local.process_shard = process_shard_then_crash
main()
