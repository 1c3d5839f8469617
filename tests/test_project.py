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
    # design.md §3: questionnaires <- screening <- notifications
    assert imported_apps(app) - allowed == set()
