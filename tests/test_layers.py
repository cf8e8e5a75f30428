"""The layer and no-cycle rules ([tool.importlinter] in pyproject.toml; `make lint` runs them on the code as it
is). Here: they hold now, and they do fail when broken, on a copy of the code with one bad import added."""
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("library_kiosk", "kiosk", "provisioning", "hardware", "bench", "tests")


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv/bin/lint-imports"), "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns(
            "__pycache__", "node_modules", "static", "templates", "*.mo"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_rules_hold():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_kiosk_importing_the_store_breaks_a_rule(tmp_path):
    root = _copy(tmp_path)
    _add_import(root / "kiosk" / "services.py", "from library_kiosk.central.store import accounts  # noqa")
    result = _lint_imports(root)
    assert result.returncode == 1
    assert "The kiosk reaches the central store over HTTP only BROKEN" in " ".join(result.stdout.split())


def test_an_import_cycle_breaks_a_rule(tmp_path):
    root = _copy(tmp_path)
    _add_import(root / "library_kiosk" / "domain" / "membership.py", "from library_kiosk.domain import account  # noqa")
    _add_import(root / "library_kiosk" / "domain" / "account.py", "from library_kiosk.domain import membership  # noqa")
    result = _lint_imports(root)
    assert result.returncode == 1
    assert "No import cycles, at any depth of any package BROKEN" in " ".join(result.stdout.split())
