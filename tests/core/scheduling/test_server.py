"""`b2core scheduler`: two real steering processes share it and no task runs twice; its state survives a restart.

The workflow has 120 leaves here; tox -e scheduler-scale runs the same test with 100,000
(SCHEDULER_TEST_LEAVES), where the web view answers with counts and truncated graphs.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import luigi
import pytest
from b2core.scheduling.server import WEB_VIEW_LIMITS

LEAVES = int(os.environ.get("SCHEDULER_TEST_LEAVES", "120"))
SLEEP = 0.005 if LEAVES <= 1000 else 0  # small runs: each leaf takes long enough for both processes to ask
SIGTERM_LEAVES = min(LEAVES, 5_000)  # the signal test's size (its second run does the whole workflow)

STEERING = textwrap.dedent(
    """
    import os
    import time

    import b2core

    HERE = os.path.dirname(os.path.abspath(__file__))
    RUNLOG = os.path.join(HERE, "runlog.txt")
    # LEAF_GATE=k: scheduling stops at leaf k until the file "gate" exists (the walk is caught half done)
    GATE = int(os.environ.get("LEAF_GATE", "-1"))


    def log(line):
        fd = os.open(RUNLOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)


    class Leaf(b2core.Task):
        i = b2core.IntParameter()

        def requires(self):
            while self.i == GATE and not os.path.exists(os.path.join(HERE, "gate")):
                time.sleep(0.05)
            return []

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


def _rpc(port: int, method: str, **arguments: Any) -> Any:
    """One call of luigi's RPC protocol, as luigi's visualiser makes it."""
    query = urllib.parse.urlencode({"data": json.dumps(arguments)})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{method}?{query}", timeout=30) as reply:
        return json.loads(reply.read())["response"]


def _write_workflow(folder: Path, leaves: int) -> Path:
    """A steering script of this many leaves and one sum, logging each run with its pid."""
    folder.mkdir()
    (folder / "steer.py").write_text(STEERING.replace("LEAVES", str(leaves)).replace("SLEEP", str(SLEEP)))
    return folder


def _steering_command(port: int) -> list[str]:
    return [sys.executable, "steer.py", "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port)]


def _task_count(port: int, status: str) -> int:
    """How many tasks have this status, as the visualiser learns it (above max_shown_tasks only the count comes)."""
    answer = _rpc(port, "task_list", status=status, upstream_status="", search="")
    return answer["num_tasks"] if "num_tasks" in answer else len(answer)


def _done_count(port: int) -> int:
    return _task_count(port, "DONE")


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    """The workflow of LEAVES leaves."""
    return _write_workflow(tmp_path / "workflow", LEAVES)


def test_two_steering_processes_never_run_a_task_twice(workflow: Path, b2core_scheduler: Any) -> None:
    proc, port = b2core_scheduler()
    try:
        command = _steering_command(port)
        # output to files: a pipe read only after the first process ended would hold the second one still
        logs = [workflow.parent / f"steering{i}.log" for i in range(2)]
        steering = []
        for log in logs:
            with open(log, "w") as out:
                steering.append(subprocess.Popen(command, cwd=workflow, stdout=out, stderr=subprocess.STDOUT))
        for p in steering:
            p.wait(timeout=600 + LEAVES * 0.1)
        assert [p.returncode for p in steering] == [0, 0], [log.read_text()[-5_000:] for log in logs]
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


def test_sigterm_while_registering_stops_the_steering_process(tmp_path: Path, b2core_scheduler: Any) -> None:
    """SIGTERM while a steering process registers its tasks ends it (exit 143) without running any; what it
    had sent (the queued registrations reach the scheduler with its pings, while the walk is held) does
    not keep a later process from running every task once."""
    leaves = SIGTERM_LEAVES
    folder = _write_workflow(tmp_path / "workflow", leaves)
    _, port = b2core_scheduler()
    log = tmp_path / "held.log"  # a file: the walk logs a line per task, more than a pipe holds
    with open(log, "w") as out:
        held = subprocess.Popen(
            _steering_command(port),
            cwd=folder,
            env={**os.environ, "LEAF_GATE": str(leaves // 2)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300 + leaves * 0.1  # a guard against a hang, not a speed limit
        while _task_count(port, "PENDING") < leaves // 3:  # about half the leaves come before the gate
            assert held.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the registrations never reached the scheduler"
            time.sleep(0.2)
        held.send_signal(signal.SIGTERM)
        held.wait(timeout=120)
    finally:
        if held.poll() is None:
            held.kill()
    assert held.returncode == 143, log.read_text()
    assert "terminated (SIGTERM)" in log.read_text()
    assert not (folder / "runlog.txt").exists()

    rerun = subprocess.run(
        _steering_command(port), cwd=folder, capture_output=True, text=True, timeout=600 + leaves * 0.1
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    runs = collections.Counter(line.rsplit(" ", 1)[0] for line in (folder / "runlog.txt").read_text().splitlines())
    assert runs == collections.Counter({f"Leaf {i}": 1 for i in range(leaves)} | {"Sum": 1})
    assert _done_count(port) == leaves + 1


class Part(luigi.Task):
    """Plain luigi tasks, run by luigi's own worker and client."""

    root = luigi.Parameter()
    i = luigi.IntParameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(self.root, f"part{self.i}"))

    def run(self) -> None:
        with self.output().open("w") as f:
            f.write(str(self.i))


class Whole(luigi.Task):
    root = luigi.Parameter()
    n = luigi.IntParameter()

    def requires(self) -> list[Part]:
        return [Part(root=self.root, i=i) for i in range(self.n)]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(self.root, "whole"))

    def run(self) -> None:
        with self.output().open("w") as f:
            f.write(str(sum(int(t.open().read()) for t in self.input())))


def test_luigis_own_worker_is_served_unchanged(tmp_path: Path, b2core_scheduler: Any) -> None:
    """luigi's worker and RemoteScheduler (one request per call, no multicall) work against `b2core scheduler`."""
    _, port = b2core_scheduler()
    assert luigi.build(
        [Whole(root=str(tmp_path), n=5)], scheduler_host="127.0.0.1", scheduler_port=port, log_level="WARNING"
    )
    assert (tmp_path / "whole").read_text() == "10"
    assert _done_count(port) == 6
