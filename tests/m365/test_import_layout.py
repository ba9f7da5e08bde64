"""The import modules' layout (issue 8, point 1): services never import the task module (tasks
import the services they run; services start jobs by name), and no import module is over ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import lockstep.m365

M365 = Path(lockstep.m365.__file__).parent
IMPORT_MODULES = [
    *sorted((M365 / "services").glob("import*.py")),
    M365 / "importer.py",
    M365 / "import_scan.py",
    M365 / "import_restore.py",
    M365 / "takeover.py",
    M365 / "takeover_values.py",
    M365 / "jobs.py",
]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_service_imports_the_task_module() -> None:
    for path in sorted((M365 / "services").glob("*.py")):
        assert "lockstep.m365.tasks" not in imported(path), path.name
    assert "lockstep.m365.services.import_batches" in imported(M365 / "tasks.py")


def test_import_modules_stay_small() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in IMPORT_MODULES}
    assert max(sizes.values()) <= 400, sizes
