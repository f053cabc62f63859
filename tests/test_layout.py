"""The package's layout holds: stages import only downwards, no cycles, and rendering needs no Keras.

Each folder's docstring (cifarcmp/<stage>/__init__.py) says what it may import; these tests read
every import statement of the package, those inside functions included, and hold it to that.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import write_fixture_run

from cifarcmp.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "cifarcmp"
HEAVY = ("keras", "tensorflow", "jax", "torch")
# What each stage must never import (a prefix of a module name).
FORBIDDEN = {
    "data": ("cifarcmp.train", "cifarcmp.analysis", "cifarcmp.report", "cifarcmp.cli", "jinja2", "matplotlib"),
    "analysis": (*HEAVY, "cifarcmp.train", "cifarcmp.data", "cifarcmp.report", "cifarcmp.cli", "jinja2", "matplotlib"),
    "report": (*HEAVY, "cifarcmp.train", "cifarcmp.data", "cifarcmp.cli"),
    "results": (*HEAVY, "cifarcmp.train", "cifarcmp.analysis", "cifarcmp.report", "cifarcmp.cli"),
    "plan": (*HEAVY, "cifarcmp.train", "cifarcmp.analysis", "cifarcmp.report", "cifarcmp.executors", "cifarcmp.cli"),
    "executors": (*HEAVY, "cifarcmp.train", "cifarcmp.analysis", "cifarcmp.report", "cifarcmp.cli"),
    # Training writes results; it reads nothing of what comes after it, nor the plan that lists it.
    "train": (
        "cifarcmp.analysis",
        "cifarcmp.report",
        "cifarcmp.plan",
        "cifarcmp.executors",
        "cifarcmp.studies",
        "cifarcmp.cli",
        "jinja2",
        "matplotlib",
    ),
    "studies": (*HEAVY, "cifarcmp.train", "cifarcmp.executors", "cifarcmp.analysis", "cifarcmp.report", "cifarcmp.cli"),
    # The low modules every stage shares: they import no stage at all.
    "stats": (*HEAVY, "cifarcmp.data", "cifarcmp.train", "cifarcmp.results", "cifarcmp.analysis", "cifarcmp.report"),
    "files": (*HEAVY, "cifarcmp"),
    "schema": (*HEAVY, "cifarcmp.data", "cifarcmp.train", "cifarcmp.results", "cifarcmp.analysis", "cifarcmp.report"),
    "text": (*HEAVY, "cifarcmp.data", "cifarcmp.train", "cifarcmp.results", "cifarcmp.analysis", "cifarcmp.report"),
    "architectures": (*HEAVY, "cifarcmp.config", "cifarcmp.train", "cifarcmp.results", "cifarcmp.analysis"),
}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_each_stage_imports_only_what_its_docstring_allows():
    breaches = []
    for path in sorted(PACKAGE.rglob("*.py")):
        stage = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for imported in _imports(path):
            if any(imported == prefix or imported.startswith(prefix + ".") for prefix in FORBIDDEN.get(stage, ())):
                breaches.append(f"{path.relative_to(PROJECT_ROOT)} imports {imported}")
    assert not breaches, "\n".join(breaches)


def test_a_study_module_imports_no_plan_and_is_registered():
    """The plan imports the study modules, so they must not import it (summaries.py may); and a study
    module left out of the registry would be a study no STUDIES= could ask for."""
    import importlib

    from cifarcmp.studies import STUDIES

    infrastructure = ("__init__", "summaries", "study")
    modules = sorted(path for path in (PACKAGE / "studies").glob("*.py") if path.stem not in infrastructure)
    breaches = [
        f"{path.relative_to(PROJECT_ROOT)} imports {imported}"
        for path in modules
        for imported in _imports(path)
        if imported.startswith(("cifarcmp.plan", "cifarcmp.studies.summaries"))
    ]
    assert not breaches, "\n".join(breaches)
    unregistered = [
        path.stem for path in modules if importlib.import_module(_module_name(path)).STUDY not in STUDIES.values()
    ]
    assert modules and not unregistered


def test_every_study_names_a_table_builder_of_the_later_stages_and_a_page_that_exists():
    """A study's table function is named as text (its own stage may not import analysis or report):
    a misspelt name, or one pointing back into the early stages, would only fail at render time."""
    from cifarcmp.report.render import STUDY_PAGES, study_table_builder
    from cifarcmp.studies import STUDIES

    for study in STUDIES.values():
        assert study.page in STUDY_PAGES and (PROJECT_ROOT / "docs/templates/pages" / f"{study.page}.md.j2").is_file()
        if study.table:
            assert study.table.startswith(("cifarcmp.analysis.", "cifarcmp.report.")), study.table
            assert callable(study_table_builder(study)), study.table


def test_no_import_cycles():
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != "cifarcmp" and imported != name:
                targets.add(imported)
        graph[name] = targets

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for target in graph.get(start, ()):
            if target == goal or (target not in seen and (seen.add(target) or reaches(target, goal, seen))):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles, f"modules on an import cycle: {', '.join(sorted(cycles))}"


@pytest.mark.slow  # over 2.5 s (Keras, a child process or a whole rendering): make test runs it, test-fast not
def test_render_runs_without_loading_keras_or_a_backend(tmp_path):
    results = tmp_path / "results"
    for model in ("resnet50", "cnn"):
        write_fixture_run(results / model / "seed-0", model)
    probe = (
        "import sys, json\n"
        "from cifarcmp.cli import main\n"
        f"code = main(['render', {str(results)!r}, '--out', {str(tmp_path / 'generated')!r}])\n"
        f"print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    code, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 0 and heavy == []
    assert (tmp_path / "generated" / "comparison.md").is_file()


def test_a_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path):
    import pytest

    from cifarcmp.errors import UserError
    from cifarcmp.lock import hold

    path = tmp_path / "out.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from cifarcmp.lock import hold\nwith hold({str(path)!r}, 'x'):\n    input()"],
        stdin=subprocess.PIPE,
        cwd=PROJECT_ROOT,
        text=True,
    )
    try:
        for _ in range(100):
            if path.is_file() and "process" in path.read_text():
                break
            subprocess.run(["sleep", "0.05"])
        with pytest.raises(UserError, match=f"in use by process {holder.pid}"), hold(path, "the folder"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with hold(path, "the folder"):  # the kill released it
        pass
