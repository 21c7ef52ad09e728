"""House habits the tools do not check by themselves: silenced type errors say why, mypy
covers all of crmhub/ in the test command, and the pre-commit hooks need no download."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: ``# type: ignore[code, ...]`` then, on the same line, a comment saying why.
EXPLAINED_IGNORE = re.compile(r"#\s*type:\s*ignore\[[\w, -]+\]  # \S")


def test_every_silenced_type_error_is_named_and_explained():
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "crmhub").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"#\s*type:\s*ignore", line) and not EXPLAINED_IGNORE.search(line)
    ]
    assert unexplained == []


def test_mypy_checks_all_of_crmhub_in_the_test_command():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mypy = config["tool"]["mypy"]
    assert mypy["files"] == ["crmhub"]
    assert "mypy_django_plugin.main" in mypy["plugins"]
    assert config["tool"]["django-stubs"]["django_settings_module"] == "crmhub.settings"
    assert not mypy.get("ignore_missing_imports")  # per module, where no stubs exist
    assert ".venv/bin/mypy" in (ROOT / "scripts" / "test").read_text().splitlines()


def test_pre_commit_runs_ruff_and_mypy_from_the_venv():
    path = ROOT / ".pre-commit-config.yaml"
    hooks = [hook for repo in yaml.safe_load(path.read_text())["repos"] for hook in repo["hooks"]]
    entries = {hook["id"]: hook["entry"] for hook in hooks}
    assert entries == {
        "ruff-check": ".venv/bin/ruff check --fix --force-exclude",
        "ruff-format": ".venv/bin/ruff format --force-exclude",
        "mypy": ".venv/bin/mypy",
    }
    assert {hook["language"] for hook in hooks} == {"unsupported"}  # nothing to download
    validated = subprocess.run(
        [str(Path(sys.executable).parent / "pre-commit"), "validate-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
