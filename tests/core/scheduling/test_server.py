"""`b2core scheduler`: two real steering processes share it and no task runs twice; its state survives a restart.

The workflow has 120 leaves here; tox -e scheduler-scale runs the same test with 100,000
(SCHEDULER_TEST_LEAVES), where the web view answers with counts and truncated graphs.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from b2core.scheduling.server import WEB_VIEW_LIMITS

LEAVES = int(os.environ.get("SCHEDULER_TEST_LEAVES", "120"))
SLEEP = 0.005 if LEAVES <= 1000 else 0  # small runs: each leaf takes long enough for both processes to ask

STEERING = (
    textwrap.dedent(
        """
    import os
    import time

    import b2core

    RUNLOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runlog.txt")


    def log(line):
        fd = os.open(RUNLOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)


    class Leaf(b2core.Task):
        i = b2core.IntParameter()

        def output(self):
            yield self.add_to_output("leaf.txt")

        def run(self):
            log(f"Leaf {self.i} {os.getpid()}")
            time.sleep(SLEEP)
            with open(self.get_output_file_name("leaf.txt"), "w") as f:
                f.write(str(self.i))


    class Sum(b2core.Task):
        n = b2core.IntParameter()

        def requires(self):
            for i in range(self.n):
                yield Leaf(i=i)

        def output(self):
            yield self.add_to_output("sum.txt")

        def run(self):
            log(f"Sum {os.getpid()}")
            total = sum(int(open(p).read()) for p in self.get_input_file_names("leaf.txt"))
            with open(self.get_output_file_name("sum.txt"), "w") as f:
                f.write(str(total))


    if __name__ == "__main__":
        b2core.set_setting("result_dir", "results")
        b2core.set_setting("show_progress", False)
        b2core.process(Sum(n=LEAVES))
    """
    )
    .replace("LEAVES", str(LEAVES))
    .replace("SLEEP", str(SLEEP))
)


def _rpc(port: int, method: str, **arguments: Any) -> Any:
    """One call of luigi's RPC protocol, as luigi's visualiser makes it."""
    query = urllib.parse.urlencode({"data": json.dumps(arguments)})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{method}?{query}", timeout=30) as reply:
        return json.loads(reply.read())["response"]


def _done_count(port: int) -> int:
    """How many tasks are DONE, as the visualiser learns it (above max_shown_tasks only the count comes)."""
    answer = _rpc(port, "task_list", status="DONE", upstream_status="", search="")
    return answer["num_tasks"] if "num_tasks" in answer else len(answer)


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    """A steering script of LEAVES leaves and one sum, logging each run with its pid."""
    folder = tmp_path / "workflow"
    folder.mkdir()
    (folder / "steer.py").write_text(STEERING)
    return folder


def test_two_steering_processes_never_run_a_task_twice(workflow: Path, b2core_scheduler: Any) -> None:
    proc, port = b2core_scheduler()
    try:
        command = [sys.executable, "steer.py", "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port)]
        steering = [
            subprocess.Popen(command, cwd=workflow, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=600 + LEAVES * 0.1)[0] for p in steering]
        assert [p.returncode for p in steering] == [0, 0], outputs
        runs = [line.rsplit(" ", 1) for line in (workflow / "runlog.txt").read_text().splitlines()]
        counts = collections.Counter(name for name, _ in runs)
        assert counts == collections.Counter({f"Leaf {i}": 1 for i in range(LEAVES)} | {"Sum": 1})
        assert (workflow / "results" / f"n={LEAVES}" / "sum.txt").read_text() == str(sum(range(LEAVES)))
        assert _done_count(port) == LEAVES + 1
        (sum_id,) = _rpc(port, "task_list", status="DONE", upstream_status="", search="Sum(")
        graph = _rpc(port, "dep_graph", task_id=sum_id)
        assert len(graph) == min(LEAVES + 1, WEB_VIEW_LIMITS["max_graph_nodes"])
        # a steering process that finished more than worker_disconnect_delay (60 s) ago is dropped, as by luigid
        assert len(_rpc(port, "worker_list")) in (1, 2)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    # the state file written on SIGTERM brings the finished tasks back after a restart
    _, port = b2core_scheduler()
    assert _done_count(port) == LEAVES + 1
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/visualiser/index.html", timeout=30) as page:
        assert b"Luigi Task Visualiser" in page.read()
