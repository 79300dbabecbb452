"""End-to-end scenarios every remote protocol runs against its real server (XRootD, WebDAV).

Each protocol's test folder describes its server as a `Protocol` and calls these functions; the
steering scripts are run the way a user runs them (`python steering.py [--batch]`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

RUN_TIMEOUT = 600  # only stops a hanging test; jobs may wait for a free CPU on the shared cluster


@dataclass
class Protocol:
    """How steering scripts reach one real server."""

    imports: str  # binds System and Target, e.g. "from b2core_xrootd import XRootDSystem as System, ..."
    server: str  # the server URL the file system is made with
    settings: dict[str, Any] = field(default_factory=dict)  # set_setting calls every script makes first

    def file_system(self, server: str | list[str] | None = None) -> Any:
        """The protocol's file system in this process."""
        import b2core

        for key, value in self.settings.items():
            b2core.set_setting(key, value)
        namespace: dict[str, Any] = {}
        exec(self.imports, namespace)
        return namespace["System"](server or self.server)


STEERING = """
import os
import time

import b2core as b2luigi
{imports}

for key, value in {settings!r}.items():
    b2luigi.set_setting(key, value)
b2luigi.set_setting("result_dir", {result_dir!r})
b2luigi.set_setting("remote_retry_wait", 0.2)
fs = System({server!r})


class MyNumberTask(b2luigi.Task):
    some_parameter = b2luigi.IntParameter()
    batch_system = {batch_system!r}
    slurm_settings = {{"export": "ALL", "ntasks": 1, "mem": "100MB"}}
    default_task_target_class = Target
    target_class_kwargs = {{"file_system": fs}}

    def output(self):
        yield self.add_to_output("output_file.txt")

    def remove_output(self):
        self._remove_output()

    def run(self):
        with open(self.get_output_file_name("output_file.txt"), "w") as f:
            f.write(f"{{self.some_parameter}}\\n")

    def remove_output(self):  # --remove only touches tasks that opt in, as in b2luigi
        self._remove_output()


class MyAverageTask(b2luigi.Task):
    batch_system = {batch_system!r}
    slurm_settings = {{"export": "ALL", "ntasks": 1, "mem": "100MB"}}

    def requires(self):
        for i in range({numbers}):
            yield self.clone(MyNumberTask, some_parameter=i)

    def output(self):
        yield self.add_to_output("average.txt", Target, file_system=fs)

    def remove_output(self):
        self._remove_output()

    @b2luigi.on_temporary_files
    def run(self):
        names = self.get_input_file_names("output_file.txt")
        assert names == self.get_input_file_names("output_file.txt"), "downloaded once, same copies"
        numbers = [float(open(name).read()) for name in names]
        with open(self.get_output_file_name("average.txt"), "w") as f:
            f.write(f"{{sum(numbers) / len(numbers)}}\\n")

    def remove_output(self):
        self._remove_output()


class WaitingTask(b2luigi.Task):
    def output(self):
        yield self.add_to_output("waited.txt", Target, file_system=fs)

    def run(self):
        open("started", "w").close()
        while not os.path.exists("go"):
            time.sleep(0.05)
        with open(self.get_output_file_name("waited.txt"), "w") as f:
            f.write("done\\n")


class BigOutputTask(b2luigi.Task):
    def output(self):
        yield self.add_to_output("big.bin", Target, file_system=fs)

    def run(self):
        with open(self.get_output_file_name("big.bin"), "wb") as f:
            for _ in range({big_megabytes}):
                f.write(os.urandom(1024 * 1024))
        print("written", flush=True)


if __name__ == "__main__":
    b2luigi.process({root}, workers=4)
"""


@dataclass
class RemoteWorkflow:
    """A steering script whose outputs all live under a fresh folder on the server."""

    folder: Path
    protocol: Protocol
    result_dir: str = field(default_factory=lambda: f"/b2core-tests/{uuid.uuid4().hex}")

    def write(
        self,
        root: str = "MyAverageTask()",
        numbers: int = 10,
        batch_system: str = "local",
        server: str | list[str] | None = None,
        big_megabytes: int = 0,
    ) -> None:
        """Write steering.py for the seeds' number/average workflow (or another root task)."""
        text = STEERING.format(
            imports=self.protocol.imports,
            settings=self.protocol.settings,
            result_dir=self.result_dir,
            server=server or self.protocol.server,
            batch_system=batch_system,
            numbers=numbers,
            big_megabytes=big_megabytes,
            root=root,
        )
        (self.folder / "steering.py").write_text(textwrap.dedent(text).lstrip())

    def command(self, *flags: str) -> list[str]:
        """The command line of a run, for subprocess."""
        return [sys.executable, str(self.folder / "steering.py"), *flags]

    def run(self, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run the script to its end."""
        return subprocess.run(
            self.command(*flags),
            cwd=self.folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )

    def remote(self, relative: str) -> str:
        """The server path of an output below result_dir."""
        return f"{self.result_dir}/{relative}"


@pytest.fixture
def fs(protocol: Protocol) -> Any:
    """The protocol's file system on its real server, in the test process."""
    return protocol.file_system()


@pytest.fixture
def flow(tmp_path: Path, protocol: Protocol, fs: Any) -> Iterator[RemoteWorkflow]:
    """A steering-script folder whose outputs go below a fresh server folder, removed afterwards."""
    workflow = RemoteWorkflow(tmp_path, protocol)
    yield workflow
    fs.remove(workflow.result_dir)


def show(result: subprocess.CompletedProcess) -> str:
    """A run's output for assertion messages."""
    return f"exit code {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def temporaries(fs: Any, folder: str) -> list[str]:
    """Temporary upload names left in a server folder."""
    return [path for path in fs.listdir(folder) if "-luigi-tmp-" in path] if fs.exists(folder) else []


def check_number_average(flow: RemoteWorkflow, fs: Any, *flags: str) -> None:
    """The seeds' workflow with every output on the server: right average, no local outputs, no leftovers."""
    result = flow.run(*flags)
    assert result.returncode == 0, show(result)
    average = flow.remote("average.txt")
    assert fs.exists(average)
    with fs_open(fs, average) as stream:
        assert float(stream.read()) == 4.5  # the mean of 0..9
    for i in range(10):
        assert fs.exists(flow.remote(f"some_parameter={i}/output_file.txt"))
        assert temporaries(fs, flow.remote(f"some_parameter={i}")) == []
    assert temporaries(fs, flow.result_dir) == []
    assert not list(flow.folder.rglob("output_file.txt")), "outputs must not land locally"

    shown = flow.run("--show-output")
    assert shown.returncode == 0, show(shown)
    assert fs.url(average) in shown.stdout, show(shown)

    again = flow.run(*flags)  # complete: nothing runs again
    assert again.returncode == 0 and "MyNumberTask" not in again.stdout.split("Scheduled")[-1], show(again)

    removed = flow.run("--remove", "MyNumberTask", "--yes")
    assert removed.returncode == 0, show(removed)
    assert not fs.exists(average) and not fs.exists(flow.remote("some_parameter=3/output_file.txt"))


def fs_open(fs: Any, path: str) -> Any:
    """Read a server file through a RemoteTarget, as users would."""
    from b2core.remote import RemoteTarget

    return RemoteTarget(path, fs).open("r")


def check_kill_mid_upload(flow: RemoteWorkflow, fs: Any) -> None:
    """SIGKILL the run while its output is being uploaded: no final name; the restart removes the temporary."""
    flow.write(root="BigOutputTask()", big_megabytes=300)
    final = flow.remote("big.bin")
    process = subprocess.Popen(
        flow.command(), cwd=flow.folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not temporaries(fs, flow.result_dir):
            assert process.poll() is None, f"the run ended before its upload was seen:\n{process.stdout.read()}"
            assert time.monotonic() < deadline, "no upload started"
            time.sleep(0.01)
        assert not fs.exists(final), "the final name exists while the upload runs"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    time.sleep(1)  # let the server notice the dropped connection
    assert not fs.exists(final), "a killed upload left a file under the final name"
    assert temporaries(fs, flow.result_dir), "the partial upload stays under its temporary name only"

    again = flow.run()  # the restart removes what the killed job left before the task runs again
    assert again.returncode == 0, show(again)
    assert fs.exists(final) and temporaries(fs, flow.result_dir) == [], show(again)


def check_server_stops_mid_run(flow: RemoteWorkflow, server: Any) -> None:
    """The server stops while a task runs: its upload is retried, then the run fails naming the URL."""
    flow.write(root="WaitingTask()", server=server.url)
    env = {"B2CORE_REMOTE_RETRIES": "2", "B2CORE_REMOTE_RETRY_WAIT": "0.1"}
    process = subprocess.Popen(
        flow.command(),
        cwd=flow.folder,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (flow.folder / "started").exists():
            assert process.poll() is None, f"the run ended early:\n{process.stdout.read()}"
            assert time.monotonic() < deadline, "the task did not start"
            time.sleep(0.05)
        server.stop()
        (flow.folder / "go").touch()
        output, _ = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0, output
    assert "retrying on" in output, output
    assert server.url in output and "gave up after 3 attempts" in output, output


def check_second_door(flow: RemoteWorkflow, fs: Any, dead: str) -> None:
    """With a dead first door, every operation moves on to the working second one."""
    flow.write(numbers=3, server=[dead, flow.protocol.server])
    result = flow.run()
    assert result.returncode == 0, show(result)
    with fs_open(fs, flow.remote("average.txt")) as stream:
        assert float(stream.read()) == 1.0


@dataclass
class PrivateServer:
    """A storage daemon of one test, on its own port, that the test may stop."""

    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop it as an administrator would (SIGTERM), waiting until it is gone."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def launch(argv: list[str], url: str, answers: Any, log: Path) -> PrivateServer:
    """Start a private server and wait until answers() is true; its output goes to `log`."""
    with open(log, "w") as stream:
        process = subprocess.Popen(argv, stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not answers():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return PrivateServer(url, process)


def free_port() -> int:
    """A port nothing listens on (bound once to port 0, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_b2luigi_methods(fs: Any, folder: str, local_folder: Path) -> None:
    """b2luigi's RemoteFileSystem methods on one server folder: upload, list, move, download a tree, remove."""
    local = local_folder / "a b.txt"
    local.write_text("payload\n")
    fs.copy_file_to_remote(str(local), f"{folder}/sub/a b.txt")  # missing folders are created
    assert fs.exists(f"{folder}/sub/a b.txt") and fs.isdir(f"{folder}/sub")
    assert fs.listdir(f"{folder}/sub") == [f"{folder}/sub/a b.txt"]
    fs.move(f"{folder}/sub/a b.txt", f"{folder}/b.txt")
    assert not fs.exists(f"{folder}/sub/a b.txt")
    fs.copy_dir_from_remote(folder, str(local_folder / "copy"))
    assert (local_folder / "copy" / "b.txt").read_text() == "payload\n"
    fs.remove_dir(f"{folder}/sub")
    assert not fs.exists(f"{folder}/sub")
    assert temporaries(fs, folder) == []


class WorkflowScenarios:
    """The seeds' workflow with every output remote, locally and on Slurm; each protocol's tests subclass it."""

    def test_number_average_locally(self, flow: RemoteWorkflow, fs: Any) -> None:
        flow.write()
        check_number_average(flow, fs)

    @pytest.mark.slurm
    def test_number_average_on_slurm(self, flow: RemoteWorkflow, fs: Any, slurm_cluster: None) -> None:
        flow.write(batch_system="slurm")
        check_number_average(flow, fs, "--batch")


class ServerFaultScenarios(WorkflowScenarios):
    """The same on a real server, plus its faults; the protocol's conftest provides `private_server`."""

    def test_killed_upload_leaves_no_final_file_and_the_restart_cleans_up(self, flow: RemoteWorkflow, fs: Any) -> None:
        check_kill_mid_upload(flow, fs)

    def test_server_stopping_mid_run_is_retried_then_named(self, flow: RemoteWorkflow, private_server: Any) -> None:
        check_server_stops_mid_run(flow, private_server)

    def test_a_dead_first_door_is_skipped(self, flow: RemoteWorkflow, fs: Any, private_server: Any) -> None:
        private_server.stop()
        check_second_door(flow, fs, private_server.url)
