"""The repository as a team adopts it: self-contained, and its pre-commit hooks the same as `make lint`."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no types; types-PyYAML is not worth a pin for one load

ROOT = Path(__file__).resolve().parents[1]


@cache
def repository_files() -> tuple[Path, ...]:
    """Every file git tracks, and every new one it does not ignore: what a clone holds once committed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git from PATH
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return tuple(ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file())


def make_recipe(target: str) -> list[str]:
    """The recipe lines of a Makefile target, with $(BIN) spelled as the path it stands for."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)", ".venv/bin"))
    return recipe


def pre_commit_hooks() -> list[tuple[str, dict[str, Any]]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [(repo["repo"], hook) for repo in config["repos"] for hook in repo["hooks"]]


def test_pre_commit_runs_the_lint_commands_of_the_makefile() -> None:
    lint = make_recipe("lint")
    local = [hook for repo, hook in pre_commit_hooks() if repo == "local"]
    assert {hook["id"] for hook in local} == {"ruff", "ruff-format", "mypy", "cfn-lint"}
    for hook in local:
        assert hook["entry"] in lint, f"hook {hook['id']} runs {hook['entry']!r}, which `make lint` does not"
        assert hook["language"] == "system", hook  # the .venv tools, at the versions requirements-dev.txt pins


def test_pre_commit_clones_nothing() -> None:
    """CI has no access to GitHub: a hook repository that needs cloning would fail there."""
    assert {repo for repo, _ in pre_commit_hooks()} <= {"local", "meta"}


def test_dependabot_watches_every_directory_that_pins_a_package() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    [pip] = [update for update in config["updates"] if update["package-ecosystem"] == "pip"]
    pinning = {
        "/" + str(path.parent.relative_to(ROOT)).removeprefix(".")
        for path in repository_files()
        if path.match("requirements*.txt") and "==" in path.read_text()
    }
    assert pinning == set(pip["directories"])
