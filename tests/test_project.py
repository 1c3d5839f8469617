"""Rules about the project itself: documented configuration and one-way imports between apps."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def environment_variables_read() -> set[str]:
    """Return every environment variable the settings, Procfile and Makefile read."""
    names: set[str] = set()
    sources = [ROOT / "config" / "settings.py", ROOT / "tests" / "settings.py"]
    for path in sources:
        names |= set(
            re.findall(
                r"""(?:environ(?:\.get)?|env_bool|env_list)\(\s*["']([A-Z_]+)""", path.read_text()
            )
        )
        names |= set(re.findall(r"""environ\[["']([A-Z_]+)["']\]""", path.read_text()))
    for path in (ROOT / "Procfile", ROOT / "Makefile"):
        names |= set(re.findall(r"\$\{([A-Z_]+):-", path.read_text()))
        names |= set(re.findall(r"\$\$\{?([A-Z_]+)", path.read_text()))
    return names - {"DJANGO_SETTINGS_MODULE", "PATH", "HOME"}


def test_every_environment_variable_is_documented_in_the_readme():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README))

    assert sorted(environment_variables_read() - documented) == []


def imported_apps(app: str) -> set[str]:
    """Return the project apps that modules of an app import."""
    apps = {"questionnaires", "screening", "notifications"}
    found: set[str] = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            found |= {m.split(".")[0] for m in modules} & apps
    return found - {app}


@pytest.mark.parametrize(
    "app, allowed",
    [
        ("questionnaires", set()),
        ("screening", {"questionnaires"}),
        ("notifications", {"questionnaires", "screening"}),
    ],
)
def test_imports_between_apps_point_one_way(app, allowed):
    # docs/design.md §3: questionnaires <- screening <- notifications
    assert imported_apps(app) - allowed == set()


# Spelled in pieces so that this file does not match itself.
OUTSIDE_REFERENCE = re.compile(r"\.\./" + "shared" + r"|" + "shared" + r"/docs")


def repository_text_files() -> list[Path]:
    """Return the repository's *.py and *.md files and Makefiles.

    Walks the tree (no git needed), leaving out only what is not the repository's: the virtual
    environment, the run command's data, caches and git's own folder.
    """
    skipped = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
    return [
        path
        for path in ROOT.rglob("*")
        if not skipped & set(path.relative_to(ROOT).parts)
        and path.is_file()
        and (path.suffix in {".py", ".md"} or path.name == "Makefile")
    ]


def test_no_file_points_outside_the_repository():
    # The sources travel with the code: docs/ holds the design, the API contract and the clinical
    # reference, and a clone has nothing beside the repository.
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in repository_text_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE_REFERENCE.search(line)
    ]
    assert offenders == [], "cite docs/ instead:\n" + "\n".join(offenders)
