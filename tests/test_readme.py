"""The README stays true to the code."""

from pathlib import Path

from lockstep.config import settings_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- settings-table:start -->\n", 1)[1].split("\n<!-- settings-table:end -->", 1)[0]
    assert block == settings_markdown()


def test_readme_gives_the_two_commands_first() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block


def test_make_bench_runs_a_module_that_exists_and_finds_every_benchmark() -> None:
    import re
    import subprocess
    import sys

    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    module = re.search(r"-m (\S+)", recipe)
    assert module is not None, recipe
    listed = subprocess.run(
        [sys.executable, "-c", f"import {module[1]} as m; print('\\n'.join(p.name for p in m.benchmarks()))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == sorted(p.name for p in (ROOT / "bench").glob("bench_*.py"))
    assert "bench_provision.py" in listed.stdout
