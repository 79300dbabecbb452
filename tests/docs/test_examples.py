"""Every fenced ``bash``/``python`` block of README.md and docs/ is run, page by page, and checked against
what the text around it says.

Pages are found generically (README.md plus every ``docs/**/*.md``), so a new page is tested as soon as
it exists. A page's blocks run in order in one scratch folder (the cwd of each block), so later blocks
see the files earlier ones made. Python blocks run as scripts with this test's interpreter; a fragment
that uses ``b2luigi.`` (or ``b2core.``) without importing it gets ``import b2core as b2luigi`` (or
``import b2core``) put in front, and a block
without a ``__main__`` part is followed by a check that the settings its task classes set as class
attributes have the types the settings models expect. Bash blocks run with ``bash -e``. Blocks in
other languages (``text``, ``json``, ``toml``) are not run.

A marker on the line right before a fence changes what happens to that block; several directives are
separated by ``;``:

* ``<!-- docs-test: skip REASON -->``: not run, for blocks that cannot run on a test machine (a
  package index, a grid, minutes of benchmarks). The reason is required; skipped blocks are counted
  and listed by ``test_every_block_is_run_or_marked``.
* ``<!-- docs-test: file PATH -->``: the block is saved as PATH (relative to the page's folder) for
  the blocks after it; files starting with ``#!`` become executable.
* ``<!-- docs-test: needs slurm -->``: runs on the local Slurm cluster (skipped without it, failing
  where B2CORE_REQUIRE_CLUSTERS=1, like every real-cluster test).
* ``<!-- docs-test: exit N -->``: the exit code the text promises (default 0).
* ``<!-- docs-test: checkout -->``: the block runs in the repository checkout instead of the page's folder.
* ``<!-- docs-test: venv -->``: runs with a new virtual environment first on ``PATH`` that sees the
  test environment's packages (b2core of this checkout included, with its ``b2core`` command), so
  ``pip install`` of a plugin lands in the new environment; one such environment per page.
* ``<!-- docs-test: empty-venv -->``: the same with a new, empty virtual environment.

What a page claims beyond "runs and exits as promised" is checked by its entry in ``CLAIMS``.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from blocks import CHECKOUT, RUNNABLE, Block, blocks, pages

TIMEOUT = 900
PRELUDE = "import b2core as b2luigi\n"
EPILOGUE = '''

def _b2core_docs_test_check() -> None:
    """Added by tests/docs: class attributes that are settings must have the types the models expect."""
    import luigi
    from b2core.plugins import plugin_manager
    from b2core.settings_models import known_settings, validate_setting

    plugin_manager()
    classes = [v for v in list(globals().values()) if isinstance(v, type) and issubclass(v, luigi.Task)]
    for cls in [c for c in classes if c.__module__ == "__main__"]:  # the block's own, not imported ones
        for key in known_settings():
            value = vars(cls).get(key)
            if value is not None and not isinstance(value, property | luigi.Parameter):
                validate_setting(key, value, f"attribute {key!r} of {cls.__name__}")


_b2core_docs_test_check()
'''


@dataclass
class BlockRun:
    """A block that ran: its output, the interpreter it had, and the page folder's files before and after."""

    block: Block
    returncode: int
    output: str
    python: Path
    before: dict[str, int]
    after: dict[str, int]

    def changed(self, pattern: str = "**/*") -> set[str]:
        """Files matching pattern that the block created or rewrote."""
        after = self.after.items()
        return {path for path, mtime in after if Path(path).match(pattern) and self.before.get(path) != mtime}


def snapshot(folder: Path) -> dict[str, int]:
    """Relative path to modification time of every file in the page folder, virtual environments left out."""
    found = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if relative.parts[0].startswith(".venv") or not path.is_file():
            continue
        found[str(relative)] = path.stat().st_mtime_ns
    return found


def make_venv(folder: Path, empty: bool) -> Path:
    """A new virtual environment; unless empty, with this checkout's b2core and the test env's packages visible."""
    venv = folder / (".venv-empty" if empty else ".venv")
    if venv.exists():
        return venv
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    if not empty:
        purelib = subprocess.run(
            [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        parent = sysconfig.get_paths()["purelib"]
        (Path(purelib) / "b2core_docs_test_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
        # the console script pip would write for b2core, which the shared packages do not bring along
        launcher = venv / "bin" / "b2core"
        launcher.write_text(f"#!{venv / 'bin' / 'python'}\nfrom b2core.cli.main import main\n\nmain()\n")
        launcher.chmod(0o755)
    return venv


def python_script(block: Block) -> str:
    """The text a Python block runs as: fragments get the import they assume and the settings check."""
    text = block.text
    if "b2luigi." in text and "import b2core as b2luigi" not in text:
        text = PRELUDE + text
    if re.search(r"\bb2core\.", text) and not re.search(r"^import b2core$", text, re.M):
        text = "import b2core\n" + text
    if "__main__" not in text:
        text += EPILOGUE
    return text


def run_block(block: Block, folder: Path, request: pytest.FixtureRequest) -> BlockRun:
    """Run one block as the page shows it, with the environment its marker asks for."""
    if block.directives.get("needs") == "slurm":
        request.getfixturevalue("slurm_cluster")
    elif "needs" in block.directives:
        pytest.fail(f"{block}: unknown requirement {block.directives['needs']!r}")
    env = dict(os.environ, PYTHONUNBUFFERED="1", B2CORE_POLL_INTERVAL="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    python = Path(sys.executable)
    for kind, empty in (("venv", False), ("empty-venv", True)):
        if kind in block.directives:
            venv = make_venv(folder, empty)
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
            env["VIRTUAL_ENV"] = str(venv)
            python = venv / "bin" / "python"
    cwd = CHECKOUT if "checkout" in block.directives else folder
    script = folder / f"block-{Path(block.page).stem}-{block.line}"
    if block.lang == "python":
        script = script.with_suffix(".py")
        script.write_text(python_script(block))
        argv = [str(python), str(script)]
    else:
        script = script.with_suffix(".sh")
        script.write_text(block.text)
        argv = ["bash", "-e", str(script)]
    before = snapshot(folder)
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    script.unlink()
    return BlockRun(block, result.returncode, result.stdout + result.stderr, python, before, snapshot(folder))


def save_file(block: Block, folder: Path) -> None:
    """A `file PATH` block: written where the page's later blocks expect it."""
    target = folder / block.directives["file"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.text)
    if block.text.startswith("#!"):
        target.chmod(0o755)


# --- what the pages claim --------------------------------------------------------------------------------------


def first(runs: list[BlockRun], text: str) -> BlockRun:
    """The run of the first block containing text."""
    return next(run for run in runs if text in run.block.text)


def readme(runs: list[BlockRun], folder: Path) -> None:
    """The example task's output and logs land where the README says, after a Slurm job wrote them."""
    assert (folder / "some_parameter=1" / "output_file.txt").read_text() == "42\n"
    assert (folder / "logs" / "some_parameter=1" / "MyNumberTask" / "stdout").exists()


def quickstart(runs: list[BlockRun], folder: Path) -> None:
    """Results next to the script; a re-run does nothing; partial re-runs work as the page says."""
    numbers = {f"results/some_parameter={n}/output_file.txt" for n in range(100)}
    local = first(runs, "python number_average.py\n")
    assert numbers | {"results/average.txt"} <= local.changed("*.txt"), local.output
    assert f"The average is in {folder / 'results' / 'average.txt'}" in local.output
    rerun = first(runs, "rm results/some_parameter=17")
    assert rerun.changed("results/*/*.txt") | rerun.changed("results/*.txt") == {
        "results/some_parameter=17/output_file.txt",
        "results/average.txt",
    }, "exactly the deleted number and the average run again"
    if any("needs" in run.block.directives for run in runs):
        slurm = first(runs, "B2CORE_BATCH_SYSTEM=slurm")
        with sqlite3.connect(folder / "results" / "logs" / ".b2core" / "jobs.sqlite") as db:
            rows = db.execute("SELECT DISTINCT backend, state FROM jobs").fetchall()
        assert rows == [("slurm", "succeeded")], slurm.output
        assert numbers <= slurm.changed("*.txt"), "every number task ran again, as a Slurm job"
    by_command = first(runs, "b2core run number_average:MyAverageTask")
    assert {"average.txt", "some_parameter=3/output_file.txt"} <= by_command.changed("*.txt"), by_command.output


def home(runs: list[BlockRun], folder: Path) -> None:
    """The install from a checkout puts b2core and the Slurm plugin, from wheels, into an empty environment."""
    install = first(runs, "bash scripts/build-wheels.sh")
    assert "b2core-slurm" in install.output and "batch_system = 'auto'" in install.output, install.output
    where = subprocess.run(
        [install.python, "-c", "import b2core, b2core_slurm; print(b2core.__file__, b2core_slurm.__file__)"],
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0 and str(CHECKOUT) not in where.stdout, "installed from the wheels, not the checkout"


def plugin_guide(runs: list[BlockRun], folder: Path) -> None:
    """The guide's files install as a distribution and run ten tasks through its stand-in batch system."""
    run = first(runs, "pip install ./b2core-mysite")
    squares = {f"number={n}/square.txt" for n in range(10)}
    assert squares <= run.changed("*.txt"), run.output
    assert {(folder / name).read_text() for name in squares} == {f"{n * n}\n" for n in range(10)}
    assert "b2core-mysite 0.1.0" in run.output, "b2core plugins lists the new distribution"
    assert len(list((folder / "queue").glob("*/exit_code"))) == 10, "ten jobs went through mysub"
    assert "1 passed" in run.output, "the guide's unit test passes"
    assert "mysite" in run.output and "available (priority 5: mysub on PATH)" in run.output, run.output


def cli(runs: list[BlockRun], folder: Path) -> None:
    """`b2core run` builds the task from its parameters; results start at the module's folder."""
    run = first(runs, "b2core run analysis:Reconstruction")
    assert "events=1000/reconstructed.txt" in run.changed("*.txt"), run.output
    assert "All tasks are finished!" in run.output, "the dry run after both runs finds nothing to do"


CLAIMS: dict[str, Callable[[list[BlockRun], Path], None]] = {
    "README.md": readme,
    "docs/quickstart.md": quickstart,
    "docs/index.md": home,
    "docs/plugin-authors.md": plugin_guide,
    "docs/cli.md": cli,
}


# --- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", pages())
def test_page_examples_do_what_the_page_says(page: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Run the page's blocks in order in one folder; each exits as promised, then the page's claims hold."""
    runs = []
    for block in blocks(page):
        if "file" in block.directives:
            save_file(block, tmp_path)
        elif block.runnable:
            run = run_block(block, tmp_path, request)
            expected = int(block.directives.get("exit", 0))
            assert run.returncode == expected, f"{block} exited {run.returncode}, expected {expected}:\n{run.output}"
            runs.append(run)
    if not runs and page not in CLAIMS:
        pytest.skip(f"{page} has no runnable block")
    if page in CLAIMS:
        CLAIMS[page](runs, tmp_path)


def test_every_block_is_run_or_marked() -> None:
    """Runnable-language blocks are run unless marked; every skip says why. Prints the count per page."""
    counts = {}
    for page in pages():
        found = [b for b in blocks(page) if b.lang in RUNNABLE]
        skipped = [b for b in found if "skip" in b.directives]
        assert all(b.directives["skip"] for b in skipped), f"a skip marker without a reason in {page}"
        counts[page] = (len(found) - len(skipped), len(skipped))
    for page, (run, skipped) in counts.items():
        print(f"{page}: {run} run, {skipped} marked skip")
    assert sum(run for run, _ in counts.values()) > 0
    assert set(CLAIMS) <= set(counts), "a page with claims was renamed"


def test_quickstart_example_is_the_repository_example() -> None:
    """The quickstart shows examples/number_average.py itself, not a copy that drifts."""
    (shown,) = [b for b in blocks("docs/quickstart.md") if b.directives.get("file") == "number_average.py"]
    assert shown.text == (CHECKOUT / "examples" / "number_average.py").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run ends with the README's test command itself, so CI tests what a user's fresh machine runs."""
    (shown,) = [b for b in blocks("README.md") if "CI runs it" in b.directives.get("skip", "")]
    commands = [line for line in (CHECKOUT / ".ci" / "run").read_text().splitlines() if line and line[0] not in "# "]
    assert commands[-1] == shown.text.strip(), f".ci/run ends with {commands[-1]!r}, README's test command is {shown}"
