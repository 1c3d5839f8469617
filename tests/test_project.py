"""Rules about the project itself: documented configuration, the import structure (docs/design.md
§3), references that stay inside the repository, and markers on the tests that start processes.
"""

import ast
import functools
import os
import re
import sys
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


APPS = ("questionnaires", "screening", "notifications")
# The pure domain modules: plain values in, plain values out; no Django, no database.
PURE_MODULES = (
    "questionnaires.scoring",
    "screening.rules",
    "screening.cmax",
    "screening.occurrences",
)
# The config modules everything else builds on; only the entry points (urls, wsgi, asgi) may
# reach into the apps. The health probes take the apps' reports by registration instead.
CONFIG_MAY_IMPORT_APPS = {"config.urls", "config.wsgi", "config.asgi"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def project_modules() -> dict[str, Path]:
    """Return every module of the apps and of config (migrations left out), by dotted name."""
    return {
        module_name(path): path
        for top in (*APPS, "config")
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts
    }


def imported_names(name: str, source: str, is_package: bool) -> set[str]:
    """Return the absolute dotted names a module's source imports, wherever the import stands.

    Imports inside functions and ``if TYPE_CHECKING`` blocks count too: deferring an import hides
    a dependency from the interpreter, not from the design. ``from a import b`` yields ``a.b``
    (a submodule or a name in ``a``: ``resolve`` tells which).
    """
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """Return the project module a dotted name lives in (its longest known prefix), if any."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Return {module: the project modules it imports}.

    A package importing its own submodules is left out: a package is the sum of its children
    (``screening.models`` re-exports its model modules; ``notifications.transports`` looks its
    transports up lazily), and the child-to-parent import is the dependency that counts.
    """
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {
            resolve(imported, modules)
            for imported in imported_names(name, path.read_text(), path.name == "__init__.py")
        }
        graph[name] = {
            t for t in targets if t is not None and t != name and not t.startswith(name + ".")
        }
    return graph


def external_imports(name: str) -> set[str]:
    """Return the top-level names of what a module imports from outside the project."""
    path = project_modules()[name]
    found = imported_names(name, path.read_text(), path.name == "__init__.py")
    return {n.split(".")[0] for n in found} - {*APPS, "config", "__future__"}


def imported_apps(app: str) -> set[str]:
    """Return the other project apps (and config) that modules of an app import."""
    return {
        target.split(".")[0]
        for module, targets in import_graph().items()
        if module.split(".")[0] == app
        for target in targets
    } - {app}


def test_the_import_graph_sees_imports_of_every_form():
    # Absolute, relative, "from package import module", deferred, TYPE_CHECKING: the checks below
    # rest on it.
    source = (
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "from screening.models import Subject\n"
        "from .. import occurrences\n"
        "from .outbox import request_evaluation\n"
        "if TYPE_CHECKING:\n"
        "    from notifications.models import Alert\n"
        "def later():\n"
        "    import questionnaires.scoring\n"
    )
    names = imported_names("screening.services.example", source, is_package=False)
    modules = project_modules()
    assert {resolve(name, modules) for name in names} - {None} == {
        "notifications.models",
        "questionnaires.scoring",
        "screening",  # "from .. import occurrences" runs screening/__init__.py first
        "screening.models",
        "screening.occurrences",
        "screening.services.outbox",
    }
    assert "screening.evidence" in import_graph()["notifications.evaluation"]


@pytest.mark.parametrize(
    "app, allowed",
    [
        ("questionnaires", {"config"}),
        ("screening", {"config", "questionnaires"}),
        ("notifications", {"config", "questionnaires", "screening"}),
    ],
)
def test_imports_between_apps_point_one_way(app, allowed):
    # docs/design.md §3: questionnaires <- screening <- notifications; screening sends the
    # notifications tasks by name and never imports notifications, questionnaires imports neither.
    assert imported_apps(app) - allowed == set()


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_only_the_standard_library_and_each_other(module):
    graph = import_graph()
    assert graph[module] - set(PURE_MODULES) == set(), "a pure module imports the project"
    assert external_imports(module) - sys.stdlib_module_names == set(), "not the standard library"


def test_config_modules_other_than_the_entry_points_import_no_app():
    # settings, the Celery app, the API conventions and the parsers are what the apps build on.
    importing_apps = {
        module
        for module, targets in import_graph().items()
        if module.split(".")[0] == "config" and {t.split(".")[0] for t in targets} & set(APPS)
    }
    assert importing_apps - CONFIG_MAY_IMPORT_APPS == set()
    assert {"config.settings", "config.celery_app", "config.api", "config.parsers"} <= set(
        project_modules()
    )


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_circle_in_the_import_graph():
    # Between the modules of an app and between apps alike, deferred imports included.
    assert import_cycles(import_graph()) == []


# Spelled in pieces so that this file does not match itself.
OUTSIDE_REFERENCE = re.compile(r"\.\./" + "shared" + r"|" + "shared" + r"/docs")


def repository_text_files() -> list[Path]:
    """Return the repository's *.py and *.md files and Makefiles.

    Walks the tree (no git needed), leaving out only what is not the repository's: the virtual
    environment, the run command's data, caches and git's own folder.
    """
    skipped = {".git", ".venv", "var", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in skipped]
        found += [
            Path(folder) / name
            for name in files
            if name.endswith((".py", ".md")) or name == "Makefile"
        ]
    return found


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


# What starts a process: the subprocess module, the worker and the private Redis server helpers.
# (The SMTP sink and the HTTP receiver are threads in this process: they need no marker.)
PROCESS_NAMES = frozenset({"subprocess", "Popen", "WorkerProcess", "RedisServer"})
PROCESS_MARKERS = frozenset({"worker", "slow"})


def _names_used(node: ast.AST) -> set[str]:
    """Return the names and attribute names a function uses, and its parameters."""
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        used |= {arg.arg for arg in node.args.args + node.args.kwonlyargs}
    return used


def _markers(decorators: list[ast.expr]) -> set[str]:
    """Return the pytest.mark.NAME markers among decorators (or a pytestmark value)."""
    found = set()
    for decorator in decorators:
        for node in ast.walk(decorator):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "mark"
            ):
                found.add(node.attr)
    return found


def _module_markers(body: list[ast.stmt]) -> set[str]:
    return _markers(
        [
            statement.value
            for statement in body
            if isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets)
        ]
    )


def process_functions(tree: ast.Module, known: frozenset[str]) -> set[str]:
    """Return the module-level functions (helpers, fixtures) and classes that start a process,
    transitively."""
    functions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    found: set[str] = set()
    while True:
        more = {f.name for f in functions if _names_used(f) & (known | found)} - found
        if not more:
            return found
        found |= more


def process_fixtures() -> frozenset[str]:
    """Return the names of what starts a process in the suite's shared modules: the conftest
    fixtures and the helpers of tests/support.py and the like (every module but the tests)."""
    shared = [p for p in sorted((ROOT / "tests").rglob("*.py")) if not p.name.startswith("test_")]
    trees = [ast.parse(path.read_text()) for path in shared]
    found: set[str] = set(PROCESS_NAMES)
    while True:  # a conftest fixture may use a helper class of another module
        more = set().union(*(process_functions(tree, frozenset(found)) for tree in trees))
        if more <= found:
            return frozenset(found)
        found |= more


def unmarked_process_tests(source: str, known: frozenset[str]) -> list[str]:
    """Return the tests of a module that start a process, directly or through a fixture or helper,
    and carry neither the worker nor the slow marker (on the test, its class or the module)."""
    tree = ast.parse(source)
    starting = known | process_functions(tree, known)
    module_marked = bool(_module_markers(tree.body) & PROCESS_MARKERS)
    offenders = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            class_marked = bool(
                (_markers(node.decorator_list) | _module_markers(node.body)) & PROCESS_MARKERS
            )
            tests = [(f"{node.name}.", class_marked, n) for n in node.body]
        else:
            tests = [("", False, node)]
        for prefix, class_marked, test in tests:
            if not isinstance(test, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not test.name.startswith("test"):
                continue
            marked = (
                module_marked or class_marked or _markers(test.decorator_list) & PROCESS_MARKERS
            )
            if _names_used(test) & starting and not marked:
                offenders.append(prefix + test.name)
    return offenders


def test_the_marker_check_finds_an_unmarked_process_test():
    source = (
        "import subprocess\nimport pytest\n\n"
        "def helper():\n    return subprocess.run(['true'])\n\n"
        "@pytest.fixture\ndef server(private_redis):\n    return private_redis\n\n"
        "def test_direct():\n    subprocess.run(['true'])\n\n"
        "def test_through_a_helper():\n    helper()\n\n"
        "def test_through_a_fixture(server):\n    pass\n\n"
        "def test_through_a_conftest_fixture(start_worker):\n    pass\n\n"
        "@pytest.mark.slow\ndef test_marked():\n    helper()\n\n"
        "def test_no_process(api_client):\n    pass\n"
    )
    assert unmarked_process_tests(source, process_fixtures()) == [
        "test_direct",
        "test_through_a_helper",
        "test_through_a_fixture",
        "test_through_a_conftest_fixture",
    ]
    assert (
        unmarked_process_tests(
            "import pytest\npytestmark = [pytest.mark.worker]\n"
            "def test_a(celery_worker):\n    pass\n",
            process_fixtures(),
        )
        == []
    )


def test_every_process_starting_test_is_marked_worker_or_slow():
    # `make test-fast` (-m "not worker and not slow") must start no process.
    known = process_fixtures()
    assert {"celery_worker", "start_worker", "private_redis"} <= known
    offenders = [
        f"{path.relative_to(ROOT)}::{name}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for name in unmarked_process_tests(path.read_text(), known)
    ]
    assert offenders == [], "mark these @pytest.mark.worker or @pytest.mark.slow"


LONG_FILE_LINES = 400


def test_every_long_application_file_is_named_in_the_contributor_guide():
    # An application file over about 400 lines is one cohesive concept, and the guide says which.
    guide = (ROOT / "docs" / "contributing.md").read_text()
    section = guide.split("## Files over about 400 lines", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^- `([\w/]+\.py)`", section, flags=re.M))
    long_files = {
        str(path.relative_to(ROOT))
        for path in project_modules().values()
        if len(path.read_text().splitlines()) > LONG_FILE_LINES
    }
    # Over the limit and not named: split it by concept, or say in the guide why it is one.
    # Named and no longer over it: take it out of the guide.
    assert sorted(long_files) == sorted(named)
