"""The HTML report: self-contained, every section present, and it renders in headless Chromium
without console errors (checked against a page that has errors, so the check can fail)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tuneprep.api import build_report

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--enable-logging=stderr", "--v=0"]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("chromium absent: `make system-deps` installs it (Debian package chromium)")
    return exe


def render(html: Path, tmp: Path, *extra: str) -> tuple[str, list[str]]:
    """(DOM after parsing, console messages) of a page in headless Chromium."""
    proc = subprocess.run([_chromium(), *CHROME_FLAGS, f"--user-data-dir={tmp / 'profile'}", *extra,
                           html.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    return proc.stdout, console


@pytest.fixture(scope="module")
def report(vader_dir, vader_wide_dir, prep_dir, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    train = tmp / "train_run"
    train.mkdir()
    # a training log only to exercise the loss chart (no claim rests on these numbers)
    (train / "train_log.jsonl").write_text("".join(json.dumps({"step": s, "loss": 2.0 / (1 + 0.1 * s)}) + "\n"
                                                   for s in range(1, 31)))
    (train / "config.json").write_text(json.dumps({"base_model": "smollm2-135m", "method": "lora", "lora_r": 16}))
    return build_report(tmp / "report.html", eval_dirs=[vader_dir, vader_wide_dir], prep_dir=prep_dir,
                        train_dir=train)


def test_report_is_self_contained_and_complete(report):
    html = report.read_text()
    for section in ("headline", "compare", "per-class", "confusion", "calibration", "training", "data", "leakage",
                    "errors", "details"):
        assert f'<section id="{section}">' in html, section
    # nothing to fetch: no scripts, no external stylesheets, images or fonts
    assert "<script" not in html and "<link" not in html and "url(" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "McNemar" in html and "ECE" in html and "13,905" in html  # comparison, calibration, data funnel


def test_report_numbers_match_the_eval(report, vader_dir):
    html = report.read_text()
    m = json.loads((vader_dir / "metrics.json").read_text())
    assert f"{100 * m['accuracy']:.1f}" in html and f"{100 * m['f1_macro']:.1f}" in html
    lo, hi = m["ci95"]["accuracy"]
    assert f"95% CI {100 * lo:.1f}–{100 * hi:.1f}" in html


def test_report_renders_in_headless_chromium(report, tmp_path):
    dom, console = render(report, tmp_path, "--dump-dom")
    assert console == [], console
    charts = re.findall(r"<svg class=\"chart (\w+)\"", dom)
    assert charts.count("heatmap") == 2 and {"bars", "reliability", "line", "funnel"} <= set(charts)
    assert dom.count("<rect") >= 2 * 9 + 2 * 3  # two 3x3 confusion matrices and 2x3 class bars were drawn
    shot = tmp_path / "report.png"
    render(report, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_console_check_catches_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('broken chart'); missingFn();</script></body></html>")
    _dom, console = render(bad, tmp_path, "--dump-dom")
    assert any("broken chart" in c for c in console) and any("missingFn" in c for c in console)


def test_report_without_optional_inputs(vader_dir, tmp_path):
    out = build_report(tmp_path / "r.html", eval_dirs=[vader_dir])
    html = out.read_text()
    assert '<section id="headline">' in html and '<section id="training">' not in html
    assert '<section id="compare">' not in html and '<section id="data">' not in html
