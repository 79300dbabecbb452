"""Conformance tests of the gbasf2 stand-ins against recorded outputs of the real tools.

The recordings (``recorded/``, sources in ``recorded/README.md``) are compared with the
stand-ins' output after normalising ids, user names, dates, paths and DNs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BIN = HERE / "bin"
PYDIR = HERE.parent / "basf2" / "python"
RECORDED = HERE / "recorded"

sys.path.insert(0, str(HERE))
from gb2standin import common, control  # noqa: E402
from gb2standin.formats import table  # noqa: E402

USER = "b2tester"

# A steering wrapper in the spirit of b2luigi's template: restore aliases, global tags and
# the log level stored next to the pickled path, then process it.
STEERING = textwrap.dedent(
    """
    import pickle
    import basf2
    from basf2 import pickle_path
    from variables import variables as vm

    with open("serialized_basf2_path.pkl", "rb") as fobj:
        state = pickle.load(fobj)
    for alias, expression in state.get("aliases", {}).items():
        vm.addAlias(alias, expression)
    basf2.conditions.globaltags += state.get("globaltags", [])
    basf2.set_log_level(state.get("log_level", basf2.LogLevel.INFO))
    path = pickle_path.deserialize_path(state)
    basf2.print_path(path)
    basf2.process(path, max_event=0)
    print(basf2.statistics)
    """
)

MAKE_PICKLE = textwrap.dedent(
    """
    import pickle, sys
    import basf2
    from variables import variables as vm
    path = basf2.create_path()
    path.add_module("RootInput")
    vm.addAlias("p_cms", "useCMSFrame(p)")
    path.add_module("VariablesToNtuple", particleList="B+:sig", variables=["M", "p_cms"], fileName="B_ntuple.root")
    basf2.conditions.globaltags += ["analysis_tools_standin"]
    state = basf2.pickle_path.serialize_path(path)
    state["aliases"] = {a: vm.getVariable(a).name for a in vm.getAliasNames()}
    state["globaltags"] = basf2.conditions.globaltags
    state["log_level"] = basf2.logging.log_level
    with open(sys.argv[1], "wb") as fobj:
        pickle.dump(state, fobj)
    """
)


class Grid:
    """Runs the stand-in tools against a private state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.work = root / "work"
        self.work.mkdir(parents=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
        self.env = control.standin_env(base, state=self.state)
        self.env["B2CORE_GBASF2_USER"] = USER

    def run(self, tool: str, *args: str, stdin: str | None = None, cwd: Path | None = None, env=None):
        # sys.executable instead of the shebang: a pyenv shim on PATH costs ~0.5 s per call
        return subprocess.run(
            [sys.executable, str(BIN / tool), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or self.work,
            env=env or self.env,
            timeout=60,
        )

    def ok(self, tool: str, *args: str, **kwargs) -> str:
        proc = self.run(tool, *args, **kwargs)
        assert proc.returncode == 0, (tool, args, proc.stdout, proc.stderr)
        return proc.stdout

    def init_proxy(self) -> str:
        return self.ok("gb2_proxy_init", "-g", "belle", "-v", "24:00", "--pwstdin", stdin="secret\n")

    def prepare_analysis(self) -> None:
        (self.work / "steering_file_wrapper.py").write_text(STEERING)
        subprocess.run(
            [sys.executable, "-c", MAKE_PICKLE, str(self.work / "serialized_basf2_path.pkl")],
            env={**self.env, "PYTHONPATH": str(PYDIR)},
            check=True,
            timeout=30,
        )

    def submit(self, project: str, *extra: str, inputs=("-i", "/belle/MC/standin/mdst")) -> str:
        return self.ok(
            "gbasf2",
            "steering_file_wrapper.py",
            "-p",
            project,
            "-s",
            "light-2311-nebelung",
            "-f",
            "serialized_basf2_path.pkl",
            *inputs,
            "--force",
            *extra,
        )

    def wait(self, project: str) -> dict:
        return control.wait_for_project(project, timeout=30)

    def jobs(self, project: str) -> list[dict]:
        return sorted(control.jobs(project).values(), key=lambda j: j["JobIndex"])


@pytest.fixture
def grid(tmp_path, monkeypatch):
    g = Grid(tmp_path)
    monkeypatch.setenv("B2CORE_STANDIN_DIR", str(g.state))
    for key in list(os.environ):
        if key.startswith("B2CORE_GBASF2_"):
            monkeypatch.delenv(key)
    control.set_config(wait_seconds=0.05)
    yield g
    control.stop_all_jobs()


def read_fake_root(path: Path) -> dict:
    sys.path.insert(0, str(PYDIR))
    import basf2

    return basf2.read_fake_root(str(path))


def recorded(name: str) -> list[str]:
    return (RECORDED / name).read_text().rstrip("\n").split("\n")


def cells(line: str) -> list[str]:
    return [c for c in re.split(r"\s{3,}", line.strip()) if c]


# --------------------------------------------------------------------------- layouts


def test_table_rule_reproduces_recorded_tables():
    status = recorded("gb2_job_status.txt")
    rows = [cells(line) for line in status[4:9]]
    assert table(cells(status[2]), rows) == [line.rstrip() for line in status[2:9]]
    summary = recorded("gb2_project_summary.txt")
    headers = ["Project", "Owner", "Status", "Done", "Fail", "Run", "Wait", "Submission Time(UTC)", "Duration"]
    row = re.split(r"\s{2,}", summary[2].strip())
    assert table(headers, [row]) == [line.rstrip() for line in summary]


# --------------------------------------------------------------------------- proxy


def normalise_proxy_text(text: str) -> list[str]:
    identity = re.search(r"^identity\s+: (.*)$", text, re.M).group(1)
    user = re.search(r"^username\s+: (.*)$", text, re.M).group(1).strip()
    text = text.replace(identity, "<DN>")
    text = re.sub(r"<DN>(/CN=\d+)+", "<DN>/<CN>", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "<HH:MM:SS>", text)
    text = re.sub(r"\d{4}/\d\d/\d\d \d\d:\d\d", "<DATE>", text)
    text = re.sub(r"(path\s+: ).*", r"\1<PATH>", text)
    text = re.sub(r"(Cert|Key) file\s+.*", r"\1 file <FILE>", text)
    text = text.replace(f"Username is {user}", "Username is <USER>")
    text = text.replace(f"proxy for {user}@", "proxy for <USER>@")
    text = re.sub(r"^(username\s+: ).*$", r"\1<USER>", text, flags=re.M)
    text = re.sub(r"^Enter Certificate password:.*$", "Enter Certificate password:", text, flags=re.M)
    text = re.sub(r"^0(\.0)?\s*$", "0", text, flags=re.M)
    return [re.sub(r"\s+", " ", line).strip() for line in text.strip().split("\n")]


def test_proxy_lifecycle_matches_recording(grid):
    proc = grid.run("gb2_proxy_info")
    assert proc.returncode == 1 and "No proxy" in proc.stdout
    proc = grid.run("gb2_job_status", "-p", "anything")
    assert proc.returncode == 1 and "gb2_proxy_init" in proc.stdout

    out = grid.init_proxy()
    expected = normalise_proxy_text((RECORDED / "gb2_proxy_init.txt").read_text())
    assert normalise_proxy_text(out) == expected
    assert "error" not in out.lower()  # b2luigi treats any "error" as a failed init

    info = grid.ok("gb2_proxy_info", "-g", "belle")
    keys = [line.split(":", 1)[0].strip() for line in info.strip().split("\n")]
    recorded_block = recorded("gb2_proxy_init.txt")[19:29]
    assert keys == [line.split(":", 1)[0].strip() for line in recorded_block]
    assert re.search(r"^username\s+: b2tester$", info, re.M)
    hours = int(re.search(r"^timeleft\s+: (\d+):", info, re.M).group(1))
    assert hours in (23, 24)


def test_proxy_bad_password_and_lifetime_controls(grid):
    control.set_config(cert_password="right")
    proc = grid.run("gb2_proxy_init", "-g", "belle", "--pwstdin", stdin="wrong\n")
    assert proc.returncode == 0  # like the real tool: errors only on stdout
    rec = recorded("gb2_proxy_init_bad_passphrase.txt")
    assert "Bad passphrase" in proc.stdout and rec[-1] in proc.stdout
    assert grid.run("gb2_proxy_info").returncode == 1

    grid.ok("gb2_proxy_init", "-g", "belle", "-v", "2:30", "--pwstdin", stdin="right\n")
    assert re.search(r"timeleft\s+: 02:(29|30):", grid.ok("gb2_proxy_info"))

    control.set_proxy(0)  # expired
    assert "timeleft     : 00:00:00" in grid.ok("gb2_proxy_info")
    assert grid.run("gb2_job_status").returncode == 1

    env = dict(grid.env, B2CORE_GBASF2_PROXY_SECONDS="none")
    assert grid.run("gb2_proxy_info", env=env).returncode == 1
    env["B2CORE_GBASF2_PROXY_SECONDS"] = "7200"
    assert "timeleft     : 02:00:00" in grid.run("gb2_proxy_info", env=env).stdout

    ctl = [sys.executable, str(BIN / "b2core-gb2-standin"), "proxy", "--hours", "5"]
    subprocess.run(ctl, env=grid.env, check=True)
    assert re.search(r"timeleft\s+: 0[45]:", grid.ok("gb2_proxy_info"))


# --------------------------------------------------------------------------- a successful project


def test_successful_project_monitoring_and_download(grid):
    grid.init_proxy()
    grid.prepare_analysis()
    proc = grid.run(
        "gbasf2",
        "steering_file_wrapper.py",
        "-p",
        "okProject",
        "-s",
        "light-2311-nebelung",
        "-f",
        "serialized_basf2_path.pkl",
        "-i",
        "/belle/MC/standin/mdst",
        stdin="Y\n",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # summary block and prompt as recorded (values normalised)
    rec = recorded("gbasf2_submit_summary.txt")
    out = proc.stdout.split("\n")
    start = out.index(rec[0])
    keys = [re.sub(r":.*", ":", line) for line in out[start : start + len(rec) - 1]]
    assert keys == [re.sub(r":.*", ":", line) for line in rec[:-1]]
    assert "Please enter Y or N:" in out[start + len(rec) - 1]
    assert "** Dataset path: /belle/user/b2tester/okProject" in out
    assert "** Number of jobs: 3" in out

    waiting = grid.ok("gb2_job_status", "-p", "okProject")
    assert "Waiting" in waiting or "Running" in waiting or "Done" in waiting
    grid.wait("okProject")

    status = grid.ok("gb2_job_status", "-p", "okProject").rstrip("\n").split("\n")
    rec = recorded("gb2_job_status.txt")
    assert status[0] == "3 jobs are selected." and status[1] == ""
    assert cells(status[2]) == cells(rec[2]) and set(status[3]) == {"="}
    for line in status[4:7]:
        jobid, st, minor, app, _site = cells(line)
        assert re.fullmatch(r"\d{9}", jobid)
        assert (st, minor, app) == ("Done", "Execution Complete", "Done")
    assert status[7:9] == rec[9:11]
    assert status[9] == "Completed:0  Deleted:0  Done:3  Failed:0  Killed:0  Running:0  Stalled:0  Waiting:0"

    summary = grid.ok("gb2_project_summary", "-p", "okProject").rstrip("\n").split("\n")
    assert cells(summary[0]) == cells(recorded("gb2_project_summary.txt")[0])
    assert cells(summary[2])[:7] == ["okProject", USER, "Done", "3", "0", "0", "0"]

    # output dataset and files, gbasf2 v5 names
    assert grid.ok("gb2_ds_list", "okProject").strip() == "/belle/user/b2tester/okProject/sub00"
    assert re.fullmatch(r"/belle/user/[^/]+/[^/]+/sub00", recorded("gb2_ds_list_project.txt")[0])
    jobs = grid.jobs("okProject")
    names = [Path(j["Outputs"][0]).name for j in jobs]
    assert names == [f"B_ntuple_{j['JobIndex']:05d}_job{j['JobID']}_00.root" for j in jobs]
    files = grid.ok("gb2_ds_list", "/belle/user/b2tester/okProject/sub00").split()
    assert [Path(f).name for f in files] == names

    # single-file download: same shape as the recorded one
    dl = grid.work / "one"
    dl.mkdir()
    query = f"/belle/user/b2tester/okProject/sub*/B_ntuple_00000_job{jobs[0]['JobID']}_*.root"
    out = grid.ok("gb2_ds_get", "--force", query, cwd=dl).rstrip("\n").split("\n")
    rec = recorded("gb2_ds_get.txt")
    assert len(out) == len(rec)
    assert out[0] == "Download 1 files from SE"
    assert re.fullmatch(r"Trying to download \S+/sub00/\S+\.root to \S+/okProject/sub00/\S+\.root", out[1])
    assert re.fullmatch(r"Trying to download \S+/sub00/\S+\.root to \S+/sub00/\S+\.root", rec[1])
    assert out[2:4] == rec[2:4] and out[5:] == rec[5:]
    assert out[4] == f"{files[0]} in {dl}/okProject/sub00"

    # b2luigi-style download of the whole output into a .partial dir
    partial = grid.work / "B_ntuple.root.partial"
    partial.mkdir()
    failed = partial / "failed_files.txt"
    grid.ok(
        "gb2_ds_get",
        "--new",
        "--force",
        "/belle/user/b2tester/okProject/sub*/B_ntuple_*.root",
        "--failed_lfns",
        str(failed),
        cwd=partial,
    )
    assert not failed.exists()
    got = sorted(p.name for p in (partial / "okProject" / "sub00").iterdir())
    assert got == sorted(names)
    content = read_fake_root(partial / "okProject" / "sub00" / names[1])
    assert content["aliases"] == {"p_cms": "useCMSFrame(p)"}
    assert content["globaltags"] == ["analysis_tools_standin"]
    assert content["release"] == "light-2311-nebelung"
    assert content["input_files"] == ["mdst_000002_prod00000001_task10020000002.root"]
    assert content["keys"][0]["branches"] == ["M", "p_cms"]
    assert "No file found" in grid.ok("gb2_ds_get", "-f", "/belle/user/b2tester/nothing/sub*/x_*.root")

    # logs: -j layout as recorded, -p layout as b2luigi expects
    out = grid.ok("gb2_job_output", "-j", str(jobs[0]["JobID"])).rstrip("\n").split("\n")
    rec = recorded("gb2_job_output.txt")
    assert out[:3] == rec[:3]
    assert out[3] == rec[3].replace("161846653", str(jobs[0]["JobID"]))
    assert out[4] == rec[4]
    assert out[5] == f'Downloaded: "Job output sandbox retrieved in {grid.work}/log/{jobs[0]["JobID"]}"'
    grid.ok("gb2_job_output", "-p", "okProject")
    for job in jobs:
        logdir = grid.work / "log" / "okProject" / str(job["JobID"])
        assert {p.name for p in logdir.iterdir()} == {"job.info", "std.out", "Script1_basf2helper.py.log"}
    basf2_log = (grid.work / "log" / "okProject" / str(jobs[0]["JobID"]) / "Script1_basf2helper.py.log").read_text()
    assert "Modules and parameter settings in the path" in basf2_log and "VariablesToNtuple" in basf2_log

    # chaining: a project reading the output dataset of the previous one
    grid.submit("chained", inputs=("-i", "/belle/user/b2tester/okProject"))
    chained = grid.jobs("chained")
    assert [j["InputLFN"] for j in chained] == files


# --------------------------------------------------------------------------- failures


def test_failed_job_is_rescheduled_and_succeeds(grid):
    grid.init_proxy()
    grid.prepare_analysis()
    control.set_config(fail_jobs="failOnce:1:1")
    (grid.work / "dslist.txt").write_text("/belle/MC/standin/nfiles2/mdst\n/belle/MC/other/file_1.root\n")
    grid.submit("failOnce", inputs=("--input_dslist", "dslist.txt"))
    grid.wait("failOnce")
    jobs = grid.jobs("failOnce")
    assert len(jobs) == 3
    assert [j["Status"] for j in jobs] == ["Done", "Failed", "Done"]
    assert jobs[1]["MinorStatus"] == "Application Finished With Errors"
    assert jobs[1]["Outputs"] == []
    summary = grid.ok("gb2_project_summary", "-p", "failOnce").split("\n")
    assert cells(summary[2])[2:5] == ["Failed", "2", "1"]

    usage = grid.ok("gb2_job_reschedule", "--usage").rstrip("\n").split("\n")
    assert usage == recorded("gb2_job_reschedule_usage.txt")
    out = grid.ok("gb2_job_reschedule", "--jobid", str(jobs[1]["JobID"]), "--force")
    assert out.startswith("1 jobs are selected.")
    grid.wait("failOnce")
    job = grid.jobs("failOnce")[1]
    assert (job["Status"], job["ApplicationStatus"], job["RescheduleCounter"]) == ("Done", "Done", 1)
    assert Path(job["Outputs"][0]).name == f"B_ntuple_00001_job{job['JobID']}_01.root"


def test_failures_exhaust_retries_and_other_modes(grid):
    grid.init_proxy()
    grid.prepare_analysis()
    control.set_config(fail_jobs="stuck:0:-1, stuck:1:1:appfail, stuck:2:1:stalled")
    grid.submit("stuck", inputs=("-i", "/belle/MC/standin/nfiles3/mdst"))
    grid.wait("stuck")
    jobs = grid.jobs("stuck")
    assert [(j["Status"], j["ApplicationStatus"]) for j in jobs] == [
        ("Failed", "Failed"),
        ("Done", "Failed"),
        ("Stalled", "Unknown"),
    ]
    for round_ in (1, 2):
        out = grid.ok("gb2_job_reschedule", "-p", "stuck", "--force")
        # Done/ApplicationStatus-Failed is not a fatal status: only jobs 0 and 2 are selected
        assert out.startswith("2 jobs are selected." if round_ == 1 else "1 jobs are selected.")
        grid.wait("stuck")
    jobs = grid.jobs("stuck")
    assert (jobs[0]["Status"], jobs[0]["RescheduleCounter"]) == ("Failed", 2)
    assert (jobs[2]["Status"], jobs[2]["RescheduleCounter"]) == ("Done", 1)


def test_download_failures_are_listed_and_retried(grid):
    grid.init_proxy()
    grid.prepare_analysis()
    grid.submit("dlProject")
    grid.wait("dlProject")
    control.set_config(download_fail="*_00001_*:1")
    partial = grid.work / "out.partial"
    partial.mkdir()
    failed = partial / "failed_files.txt"
    query = "/belle/user/b2tester/dlProject/sub*/B_ntuple_*.root"
    out = grid.ok("gb2_ds_get", "--force", query, "--failed_lfns", str(failed), cwd=partial)
    assert "Failed files:" in out
    lost = failed.read_text().split()
    assert len(lost) == 1 and "_00001_" in lost[0]
    assert len(list((partial / "dlProject" / "sub00").iterdir())) == 2
    old = partial / "failed_files_old.txt"
    failed.rename(old)
    args = ("--force", query, "--input_dslist", str(old), "--failed_lfns", str(failed))
    out = grid.ok("gb2_ds_get", *args, cwd=partial)
    assert "Download 1 files from SE" in out and not failed.exists()
    assert len(list((partial / "dlProject" / "sub00").iterdir())) == 3


def test_kill_delete_and_project_rules(grid):
    grid.init_proxy()
    grid.prepare_analysis()
    control.set_config(run_seconds=30)
    grid.submit("slow", inputs=("-i", "/belle/MC/standin/nfiles2/mdst/sub00"))
    deadline = time.time() + 10
    while {j["Status"] for j in grid.jobs("slow")} != {"Running"}:
        assert time.time() < deadline
        time.sleep(0.05)
    pids = [j["Pid"] for j in grid.jobs("slow")]
    assert "Killed jobs" in grid.ok("gb2_job_kill", "-p", "slow", "--force")
    assert {j["Status"] for j in grid.jobs("slow")} == {"Killed"}
    deadline = time.time() + 10
    while any(common.pid_alive(pid) for pid in pids):
        assert time.time() < deadline
        time.sleep(0.05)
    control.set_config(run_seconds=None)

    first = grid.jobs("slow")[0]["JobID"]
    grid.ok("gb2_job_delete", "-j", str(first), "--force")
    status = grid.ok("gb2_job_status", "-p", "slow")
    assert status.startswith("1 jobs are selected.") and str(first) not in status
    assert "Deleted:1" in grid.ok("gb2_job_status", "-p", "slow", "--status", "all")
    grid.ok("gb2_job_delete", "-p", "slow", "--force")
    assert grid.ok("gb2_job_status", "-p", "slow").strip() == "0 jobs are selected."

    # names: unique (even after deletion), at most 32 characters of [a-zA-Z0-9+-_]
    assert grid.run("gbasf2", "steering_file_wrapper.py", "-p", "slow", "-s", "r", "--force").returncode == 1
    assert grid.run("gbasf2", "steering_file_wrapper.py", "-p", "x" * 33, "-s", "r", "--force").returncode == 1
    assert grid.run("gbasf2", "steering_file_wrapper.py", "-p", "bad/name", "-s", "r", "--force").returncode == 1
    # no answer on stdin: the prompt cancels the submission
    proc = grid.run("gbasf2", "steering_file_wrapper.py", "-p", "cancelled", "-s", "r", stdin="")
    assert proc.returncode == 1 and control.project("cancelled") is None
    # unknown options are rejected, single-file LFN gives one job
    assert grid.run("gbasf2", "steering_file_wrapper.py", "-p", "p2", "-s", "r", "--bogus").returncode == 2
    grid.submit("single", inputs=("-i", "/belle/MC/x/sub00/mdst_000007_prod1_task1.root"))
    assert len(grid.jobs("single")) == 1


def test_clean_environment_setup_script_and_call_log(grid):
    setup = control.write_setup_script(grid.root / "bashrc", state=grid.state)
    control.set_proxy(3600, user="b2tester")
    home = os.environ.get("HOME", str(grid.root))
    env_dump = subprocess.run(
        ["env", "-i", f"HOME={home}", "bash", "-c", f"source {setup} -g belle > /dev/null && env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(line.split("=", 1) for line in env_dump.splitlines() if "=" in line)
    assert env["B2CORE_STANDIN_DIR"] == str(grid.state)
    proc = subprocess.run(["gb2_proxy_info"], env=env, capture_output=True, text=True, cwd=grid.work)
    assert proc.returncode == 0 and "username     : b2tester" in proc.stdout

    calls = [json.loads(line) for line in (grid.state / "calls.jsonl").read_text().splitlines()]
    last = calls[-1]
    assert last["tool"] == "gb2_proxy_info" and last["argv"] == ["gb2_proxy_info"]
    assert {"time", "pid"} <= set(last)
