"""``tuneprep inspect --near-dups`` on real files."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tuneprep.io.inspect import profile
from tuneprep.neardup.report import near_duplicates


def test_near_dups_of_templated_conversations(shared_data):
    # FastChat's dummy conversations are templated: 500 conversations, 52 distinct first turns.
    r = near_duplicates(shared_data / "sharegpt_500.json", text_field="messages")
    assert r["texts"] == 500
    assert r["near_duplicates"] >= 200 and 0.4 <= r["rate"] < 1.0
    # more than the exact duplicates inspect already counts on the same texts
    exact = profile(shared_data / "sharegpt_500.json")["duplicates"]["duplicates"]
    assert r["near_duplicates"] > exact
    top = r["largest"][0]
    assert top["size"] >= 20 and len(top["examples"]) == 3
    assert all(e["source"].startswith(str(shared_data / "sharegpt_500.json") + ":") for e in top["examples"])
    sizes = [c["size"] for c in r["largest"]]
    assert sizes == sorted(sizes, reverse=True)


def test_inspect_cli_reports_near_duplicates(rt_path):
    proc = run_cli("inspect", str(rt_path), "--near-dups", "--json")
    assert proc.returncode == 0, proc.stderr
    nd = json.loads(proc.stdout)["near_duplicates"]
    # RT's repeated snippets plus near copies (the same quote with and without the film title)
    assert nd["texts"] == 13905 and nd["near_duplicates"] >= 60 and nd["clusters"] >= 55
    texts = {e["text"] for c in nd["largest"] for e in c["examples"]}
    assert texts
    proc = run_cli("inspect", str(rt_path), "--near-dups")
    assert proc.returncode == 0 and "largest clusters" in proc.stdout and "near-duplicates" in proc.stdout
