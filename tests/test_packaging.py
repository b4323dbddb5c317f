"""The built wheel works from a normal (non-editable) install: `tuneprep demo` finds its recipe.

The wheel is built from this checkout and installed with pip (``--no-deps``) into a fresh venv
whose only other packages are the test venv's (its site-packages joined through a ``.pth``
file, which is what ``--system-site-packages`` does for a system Python). The editable install
of the test venv is not on that path, and PYTHONPATH is cleared, so the package that answers is
the one from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy, so that setuptools' build/ and egg-info never land in the checkout.
    src = tmp / "src-copy"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", ".*_cache"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--no-index", "-q", "-w", str(tmp / "dist"), str(src)],
                           capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail(f"wheel build failed:\n{build.stderr[-3000:]}")
    wheel = next((tmp / "dist").glob("tuneprep-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The test venv's third-party packages, but not its editable tuneprep (a .pth file's path
    # is added as is; the .pth hooks inside it are not run).
    Path(site, "test-venv-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "--ignore-installed",
                           "-q", str(wheel)], capture_output=True, text=True)
    if inst.returncode != 0:
        pytest.fail(f"wheel install failed:\n{inst.stderr[-3000:]}")
    return wheel, venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def test_wheel_holds_the_demo_recipe(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "tuneprep/recipes/sentiment.yaml" in names
    assert "tuneprep/py.typed" in names or any(n.startswith("tuneprep/") for n in names)


def test_installed_package_runs_demo_help_and_resolves_its_recipe(installed, tmp_path):
    _, venv = installed
    proc = subprocess.run([venv / "bin" / "tuneprep", "demo", "--help"], capture_output=True, text=True,
                          env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout
    code = ("import tuneprep, tuneprep.demo as d, tuneprep as tp; p = d.recipe_path(); r = tp.load_recipe(p); "
            "print(tuneprep.__file__); print(p); print(r.input.path)")
    proc = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True, env=_env(),
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pkg_file, recipe, input_path = proc.stdout.split("\n")[:3]
    assert str(venv) in pkg_file and str(REPO / "src") not in pkg_file  # the wheel's copy answered
    assert Path(recipe).is_file() and str(venv) in recipe
    assert input_path == "dataset:rotten_tomatoes"
