"""The repository as a team adopts it: self-contained, its links whole, its pre-commit hooks the same as `make lint`."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # untyped: pyproject.toml tells mypy so, for every user of PyYAML

ROOT = Path(__file__).resolve().parents[2]


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


def lint_commands() -> list[str]:
    """What `make lint` runs: its recipe, then the recipes of the linters it runs side by side ($(LINTERS)),
    each its own or, for a linter whose clean verdict is kept, its stamp's (lint-checkov: .lint/checkov)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    linters = next(line for line in lines if line.startswith("LINTERS :=")).split(":=", 1)[1].split()
    assert any("$(LINTERS)" in line for line in make_recipe("lint")), "make lint does not run $(LINTERS)"
    recipes = [make_recipe(linter) or make_recipe(f".lint/{linter.removeprefix('lint-')}") for linter in linters]
    assert all(recipes), "a linter with no recipe, and no stamp's recipe"
    return make_recipe("lint") + [command for recipe in recipes for command in recipe]


def pre_commit_hooks() -> list[tuple[str, dict[str, Any]]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [(repo["repo"], hook) for repo in config["repos"] for hook in repo["hooks"]]


def test_pre_commit_runs_the_lint_commands_of_the_makefile() -> None:
    lint = lint_commands()
    local = [hook for repo, hook in pre_commit_hooks() if repo == "local"]
    assert {hook["id"] for hook in local} == {"ruff", "ruff-format", "mypy", "cfn-lint"}
    for hook in local:
        assert hook["entry"] in lint, f"hook {hook['id']} runs {hook['entry']!r}, which `make lint` does not"
        assert hook["language"] == "system", hook  # the .venv tools, at the versions requirements-dev.txt pins


def test_cfn_lint_lints_every_nested_template() -> None:
    """Make's other linters take every stacks/*.yaml; cfn-lint's line names them, as pre-commit runs the same line."""
    (cfn_lint,) = [line for line in lint_commands() if line.startswith(".venv/bin/cfn-lint ")]
    nested = sorted((ROOT / "stacks").glob("*.yaml"))
    assert nested
    for template in nested:
        name = template.relative_to(ROOT)
        assert f" {name} " in cfn_lint, f"add {name} to make lint's cfn-lint"


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


# A path outside the repository: the sibling folder of the project's working notes, or an absolute path
# of the machine it was written on. Spelled so that this file does not match itself.
OUTSIDE_PATH = re.compile(rb"\.\./shared\b|(?<![\w.:/-])[/]work\b")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_no_file_refers_to_a_path_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.decode(errors='replace').strip()}"
        for path in repository_files()
        for number, line in enumerate(path.read_bytes().splitlines(), start=1)
        if OUTSIDE_PATH.search(line)
    ]
    assert not found, "these lines point outside the repository, which a clone does not have:\n" + "\n".join(found)


def anchors(markdown: Path) -> set[str]:
    """The heading anchors GitHub generates for a Markdown file."""
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_relative_link_in_the_docs_leads_somewhere() -> None:
    broken = []
    for document in (path for path in repository_files() if path.suffix == ".md"):
        for target in MARKDOWN_LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto: ... are the web's to keep
            name, _, anchor = target.partition("#")
            linked = (document.parent / name).resolve() if name else document
            if not linked.is_relative_to(ROOT) or not linked.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such file in the repository)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
