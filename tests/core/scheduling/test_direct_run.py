"""A local run without a scheduler round trip per task behaves as luigi's worker loop: the same events,
the same summary, the same outputs, also where it hands over to luigi's loop (a failure, new
dependencies). luigi's loop is forced by its own task_limit option, which a direct run does not follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

STEERING = """
import json
import os
import luigi
import b2core

EVENTS = []

def recorder(event):
    def record(task, *args):
        dep = args[0].task_id if event == luigi.Event.DEPENDENCY_DISCOVERED else ""
        EVENTS.append([event, task.task_id, dep])
    return record

for event in (luigi.Event.DEPENDENCY_DISCOVERED, luigi.Event.DEPENDENCY_PRESENT, luigi.Event.DEPENDENCY_MISSING,
              luigi.Event.START, luigi.Event.SUCCESS, luigi.Event.FAILURE, luigi.Event.PROCESSING_TIME):
    luigi.Task.event_handler(event)(recorder(event))

class Leaf(b2core.Task):
    i = b2core.IntParameter()

    def output(self):
        yield self.add_to_output("leaf.txt")

    def complete(self):
        if str(self.i) == os.environ.get("BROKEN_COMPLETE"):
            raise ValueError("complete() is broken")
        return super().complete()

    def run(self):
        if str(self.i) == os.environ.get("FAIL"):
            raise RuntimeError(f"leaf {self.i} fails")
        with open(self.get_output_file_name("leaf.txt"), "w") as f:
            f.write(str(self.i))

class Sum(b2core.Task):
    def requires(self):
        for i in range(6):
            yield Leaf(i=i)

    def output(self):
        yield self.add_to_output("sum.txt")

    def run(self):
        total = sum(int(open(p).read()) for p in self.get_input_file_names("leaf.txt"))
        with open(self.get_output_file_name("sum.txt"), "w") as f:
            f.write(str(total))

class Dynamic(b2core.Task):
    def requires(self):
        if os.environ.get("BROKEN_REQUIRES"):
            raise ValueError("requires() is broken")
        return []

    def output(self):
        yield self.add_to_output("dynamic.txt")

    def run(self):
        if os.environ.get("DYNAMIC"):
            yield Leaf(i=100)
        with open(self.get_output_file_name("dynamic.txt"), "w") as f:
            f.write("done")

class All(b2core.WrapperTask):
    def requires(self):
        yield Sum()
        yield Dynamic()
        yield Leaf(i=0)

if __name__ == "__main__":
    b2core.set_setting("result_dir", "results")
    os.makedirs("results/i=0", exist_ok=True)
    with open("results/i=0/leaf.txt", "w") as f:
        f.write("0")
    if os.environ.get("LUIGI_LOOP"):
        luigi.configuration.get_config().set("worker", "task_limit", "1000000")
    try:
        b2core.set_setting("show_progress", False)
        b2core.process(All(), workers=1)
    finally:
        with open(os.environ["EVENTS_FILE"], "w") as f:
            json.dump(EVENTS, f)
"""


def without_frames(text: str) -> str:
    """A traceback's frames differ (luigi's task process or the direct run called run()); the rest must not."""
    kept, skip = [], False
    for line in text.splitlines():
        if line.lstrip().startswith('File "'):
            skip = True
        elif skip and line.startswith("        "):
            continue
        else:
            skip = False
            kept.append(line)
    return "\n".join(kept)


def run_both(workflow, tmp_path: Path, **env: str) -> list[tuple[int, list, str, dict[str, str]]]:
    """The workflow run directly and by luigi's loop, each from scratch: exit code, events, summary, outputs."""
    workflow.write(STEERING)
    runs = []
    for mode in ("direct", "luigi"):
        results = workflow.path / "results"
        if results.exists():
            for path in sorted(results.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
        events = tmp_path / f"events-{mode}.json"
        extra = {"LUIGI_LOOP": "1"} if mode == "luigi" else {}
        run = workflow.run(env={"EVENTS_FILE": str(events), **env, **extra})
        summary = without_frames(run.output[run.output.find("===== Luigi Execution Summary =====") :])
        outputs = {str(p.relative_to(results)): p.read_text() for p in sorted(results.rglob("*.txt"))}
        runs.append((run.returncode, sorted(json.loads(events.read_text())), summary, outputs, run))
    return runs


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"FAIL": "3"},
        {"DYNAMIC": "1"},
        {"DYNAMIC": "1", "FAIL": "100"},
        {"BROKEN_REQUIRES": "1"},
        {"BROKEN_COMPLETE": "4"},
    ],
    ids=[
        "all succeed",
        "a leaf fails",
        "new dependencies",
        "a new dependency fails",
        "requires raises",
        "complete raises",
    ],
)
def test_a_direct_run_matches_luigis_loop(workflow, tmp_path: Path, env: dict[str, str]) -> None:
    """Events (with each discovered edge), exit code, execution summary and outputs are luigi's."""
    direct_run, luigi_run = run_both(workflow, tmp_path, **env)
    direct_code, direct_events, direct_summary, direct_outputs, direct = direct_run
    luigi_code, luigi_events, luigi_summary, luigi_outputs, other = luigi_run
    assert direct_code == luigi_code == (0 if env in ({}, {"DYNAMIC": "1"}) else 1), (direct, other)
    assert direct_events == luigi_events, (direct, other)
    assert "Scheduled" in direct_summary and direct_summary == luigi_summary, (direct, other)
    assert direct_outputs == luigi_outputs
    informed = "Informed scheduler that task"  # the one difference: a direct run has no scheduler to inform
    assert informed in other.output
    assert (informed in direct.output) == bool(env), direct  # ... until it hands over
    assert ("sum.txt" in str(direct_outputs)) == (env.get("FAIL", "100") == "100" and "BROKEN_COMPLETE" not in env)
