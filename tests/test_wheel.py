"""The wheel as a library installs it: built from this checkout, installed into a fresh virtual environment
(without its dependencies: the two commands below need none), holding exactly the product's top-level names,
its templates, static files and compiled translations, and no tests or benchmarks."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL = {"library_kiosk", "kiosk", "provisioning", "hardware"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(REPO)], check=True, capture_output=True, timeout=600)
    [built] = out.glob("library_kiosk-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    return venv


def test_the_wheel_holds_the_product_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))} \
        == TOP_LEVEL
    assert "kiosk/i18n/fr/LC_MESSAGES/messages.mo" in names  # compiled at build time (setup.py)
    assert "kiosk/templates/page.html" in names and "kiosk/static/vendor/htmx-2.0.11.min.js" in names
    assert "library_kiosk/central/store/letter_templates/FulFinesFeesNotificationLetter.html" in names


def test_the_installed_command_answers(installed):
    kiosk = str(installed / "bin" / "kiosk")
    help_text = subprocess.run([kiosk, "--help"], capture_output=True, text=True, timeout=60, cwd="/")
    assert help_text.returncode == 0, help_text.stderr
    assert "reader" in help_text.stdout and "provisioning" in help_text.stdout
    check = subprocess.run([kiosk, "config", "check", str(REPO / "deploy" / "kiosk.example.toml")],
                           capture_output=True, text=True, timeout=60, cwd="/")
    assert check.returncode == 0, check.stdout + check.stderr
