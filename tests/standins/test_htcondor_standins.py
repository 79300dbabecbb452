"""Conformance tests of the HTCondor stand-ins against recorded outputs of the real tools
(``recorded/htcondor.json``, sources in ``recorded/README.md``), plus behaviour tests:
jobs really run, finish, fail, are removed, held and released."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "htcondor"))

import _condor  # noqa: E402
import standin_queue  # noqa: E402

REC = json.loads((HERE / "recorded" / "htcondor.json").read_text())


# ------------------------------------------------------------------------- helpers


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def script(tmp_path: Path, name: str, body: str) -> Path:
    return write(tmp_path / name, "#!/bin/bash\n" + body, 0o755)


def submit(env, tmp_path: Path, text: str, *args, name: str = "job.sub"):
    write(tmp_path / name, text)
    proc = env.run("condor_submit", *args, name, cwd=tmp_path)
    match = re.search(r"submitted to cluster (\d+)\.", proc.stdout) or re.search(r"^(\d+)\.0 - ", proc.stdout)
    return proc, int(match.group(1)) if match else None


def ads(env, in_queue=None) -> dict:
    jobs = standin_queue.read_queue("htcondor")["jobs"]
    result = {}
    for job_id, job in jobs.items():
        if in_queue is None or bool(job.get("in_queue")) == in_queue:
            result[job_id] = {k: v for k, v in job["ad"].items()}
    return result


def wait_status(env, job_id: str, status: int, timeout: float = 10.0) -> dict:
    return env.wait_until(lambda: (ads(env).get(job_id) or {}).get("JobStatus") == status and ads(env)[job_id], timeout)


def wait_left_queue(env, job_id: str, timeout: float = 10.0) -> dict:
    def done():
        job = standin_queue.read_queue("htcondor")["jobs"].get(job_id)
        return job and not job.get("in_queue") and job["ad"]

    return env.wait_until(done, timeout)


def norm_cluster(text: str, cluster: int, to: int = 6) -> str:
    return re.sub(rf"\b{cluster}\b", str(to), text)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


SLEEP_SUB = """\
executable = {exe}
log = {log}
output = out.$(Process)
error = err.$(Process)
queue {n}
"""


@pytest.fixture
def condor(standin_env):
    standin_env.use("htcondor")
    return standin_env


# ------------------------------------------------------------------ condor_submit


def test_submit_output_matches_manual(condor, tmp_path):
    rec = REC["submit_quickstart"]
    script(tmp_path, "sleep.sh", 'TIMETOWAIT="0"\necho "sleeping for $TIMETOWAIT seconds"\n/bin/sleep $TIMETOWAIT\n')
    text = (
        "# sleep.sub -- simple sleep job\n\nexecutable              = sleep.sh\n\nlog                     = sleep.log\n"
        "output                  = sleep.out\nerror                   = sleep.err \n\n"
        "should_transfer_files   = Yes\nwhen_to_transfer_output = ON_EXIT\n\nrequest_cpus            = 1\n"
        "request_memory          = 512M\nrequest_disk            = 1G\n\nqueue\n"
    )
    proc, cluster = submit(condor, tmp_path, text, name="sleep.sub")
    assert norm_cluster(proc.stdout, cluster) == rec["stdout"]
    assert proc.stderr == rec["stderr"]
    assert proc.returncode == rec["returncode"]
    ad = wait_left_queue(condor, f"{cluster}.0")
    assert ad["JobStatus"] == 4 and ad["ExitCode"] == 0
    assert (tmp_path / "sleep.out").read_text() == "sleeping for 0 seconds\n"
    assert ad["RequestMemory"] == 512 and ad["RequestCpus"] == 1


def test_submit_terse_and_ids(condor, tmp_path):
    exe = script(tmp_path, "true.sh", "exit 0\n")
    proc, cluster = submit(condor, tmp_path, f"executable = {exe}\nqueue 3\n", "-terse", name="three.sub")
    assert norm_cluster(proc.stdout, cluster) == REC["submit_terse"]["stdout"]
    assert proc.returncode == 0
    proc2, cluster2 = submit(condor, tmp_path, f"executable = {exe}\nqueue 2\n")
    assert proc2.stdout == f"Submitting job(s)..\n2 job(s) submitted to cluster {cluster2}.\n"
    assert cluster2 == cluster + 1


def test_submit_missing_executable(condor, tmp_path):
    rec = REC["submit_missing_executable"]
    proc, _ = submit(condor, tmp_path, "executable = nothere.sh\nqueue\n")
    assert proc.stdout == rec["stdout"]
    assert proc.stderr == rec["stderr"].replace("/home/kris", str(tmp_path))
    assert proc.returncode == rec["returncode"]
    assert ads(condor) == {}


def test_submit_missing_file(condor, tmp_path):
    rec = REC["submit_missing_file"]
    proc = condor.run(*rec["argv"], cwd=tmp_path)
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])


def test_queue_from_inline_list_and_macros(condor, tmp_path):
    exe = script(tmp_path, "echo.sh", 'echo "$@"\n')
    text = (
        f"executable = {exe}\narguments = \"$(name) $(Cluster).$(Process) 'two words'\"\n"
        "output = out.$(name)\nJobBatchName = batch_$(name)\nqueue name from (\n  alpha\n  beta\n)\n"
    )
    proc, cluster = submit(condor, tmp_path, text)
    assert proc.stdout == f"Submitting job(s)..\n2 job(s) submitted to cluster {cluster}.\n"
    assert proc.stderr == ""
    for proc_id, name in enumerate(("alpha", "beta")):
        ad = wait_left_queue(condor, f"{cluster}.{proc_id}")
        assert ad["JobBatchName"] == f"batch_{name}"
        assert (tmp_path / f"out.{name}").read_text() == f"{name} {cluster}.{proc_id} two words\n"


def test_multiple_queue_statements_one_cluster(condor, tmp_path):
    """b2luigi's grouped submit files: one block per sub-task, each ending in 'queue 1'."""
    exe = script(tmp_path, "echo.sh", 'echo "$@"\n')
    text = "".join(f"executable = {exe}\narguments = {i}\noutput = o{i}\nqueue 1\n" for i in range(3))
    proc, cluster = submit(condor, tmp_path, text)
    assert proc.stdout == f"Submitting job(s)...\n3 job(s) submitted to cluster {cluster}.\n"
    assert proc.stderr == REC["multi_queue_warning"]["stderr"]
    for i in range(3):
        wait_left_queue(condor, f"{cluster}.{i}")
        assert (tmp_path / f"o{i}").read_text() == f"{i}\n"


def test_unused_key_warning(condor, tmp_path):
    exe = script(tmp_path, "true.sh", "exit 0\n")
    proc, _ = submit(condor, tmp_path, f"executable = {exe}\nfoo = bar\nqueue\n")
    assert proc.returncode == 0
    assert proc.stderr == "\nWARNING: the line 'foo = bar' was unused by condor_submit. Is it a typo?\n"


def test_submit_daemon_down(condor, tmp_path):
    rec = REC["submit_daemon_down"]
    exe = script(tmp_path, "true.sh", "exit 0\n")
    condor.fail_next("condor_submit")
    proc, _ = submit(condor, tmp_path, f"executable = {exe}\nqueue\n")
    assert proc.stdout == rec["stdout"]
    assert re.sub(r"alias=[^&]*", "alias=host", proc.stderr) == rec["stderr"]
    assert proc.returncode == rec["returncode"]
    assert ads(condor) == {}


# ----------------------------------------------------------------------- condor_q


def test_condor_q_json_running_job(condor, tmp_path):
    rec = REC["q_json_running"]
    exe = script(tmp_path, "sleep.sh", "sleep 30\n")
    log = tmp_path / "sleep.log"
    _, cluster = submit(condor, tmp_path, SLEEP_SUB.format(exe=exe, log=log, n=1))
    wait_status(condor, f"{cluster}.0", 2)
    proc = condor.run(
        "condor_q", "-json", "-attributes", "ClusterId,JobStatus,ExitStatus,ExitCode,UserLog", str(cluster)
    )
    got = norm_cluster(proc.stdout, cluster).replace(str(log), "/home/kris/sleep.log")
    assert got == rec["stdout"]
    assert proc.stderr == "" and proc.returncode == 0


def test_condor_q_json_two_ads_and_empty(condor, tmp_path):
    condor.setenv("B2CORE_STANDIN_START_DELAY", "30")  # stay idle
    exe = script(tmp_path, "true.sh", "exit 0\n")
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nqueue 2\n")
    proc = condor.run("condor_q", "-json", "-attributes", "ClusterId,ProcId,JobStatus")
    assert norm_cluster(proc.stdout, cluster) == REC["q_json_two_ads"]["stdout"]
    empty = condor.run("condor_q", "-json", "12345")
    assert (empty.stdout, empty.stderr, empty.returncode) == ("", "", 0)
    assert json.loads(condor.run("condor_q", "-json").stdout)[0]["Owner"]


def test_condor_q_constraint_af_and_long(condor, tmp_path):
    condor.setenv("B2CORE_STANDIN_START_DELAY", "30")
    exe = script(tmp_path, "true.sh", "exit 0\n")
    _, c1 = submit(condor, tmp_path, f'executable = {exe}\n+Flavour = "short"\nJobBatchName = one\nqueue\n')
    _, c2 = submit(condor, tmp_path, f"executable = {exe}\nbatch_name = two\nqueue 2\n")
    proc = condor.run("condor_q", "-constraint", 'JobBatchName == "two"', "-af", "ClusterId", "ProcId", "JobStatus")
    assert proc.stdout == f"{c2} 0 1\n{c2} 1 1\n"
    proc = condor.run("condor_q", "-constraint", f'ClusterId == {c1} && Flavour =?= "short"', "-af:j", "Flavour")
    assert proc.stdout == f"{c1}.0 short\n"
    proc = condor.run("condor_q", "-long", "-attributes", "ClusterId,JobBatchName", f"{c1}.0")
    assert proc.stdout == f'ClusterId = {c1}\nJobBatchName = "one"\n\n'


def test_nobatch_rows_match_manual():
    """Render the values of the manual's example with the stand-in's formatter."""
    rec = REC["q_nobatch_manual"]["stdout"].split("\n")
    assert rec[2] + "\n" == _condor.NOBATCH_HEADER
    now = time.time()
    year = time.localtime().tm_year
    rendered_ads = []
    for line in rec[3:9]:
        m = re.match(
            r"^\s*(\d+)\.(\d+)\s+(\S+)\s+(\d+)/(\d+) (\d+):(\d+)\s+(\d+)\+(\d+):(\d+):(\d+) (\S+)\s+(\d+)"
            r"\s+([\d.]+) (\S+)(?: (.*))?$",
            line,
        )
        g = m.groups()
        runtime = int(g[7]) * 86400 + int(g[8]) * 3600 + int(g[9]) * 60 + int(g[10])
        ad = {
            "ClusterId": int(g[0]),
            "ProcId": int(g[1]),
            "Owner": g[2],
            "JobStatus": 2,
            "JobPrio": int(g[12]),
            "QDate": time.mktime((year, int(g[3]), int(g[4]), int(g[5]), int(g[6]), 0, 0, 0, -1)),
            "JobCurrentStartDate": int(now) - runtime,
            "MemoryUsage": float(g[13]),
            "Cmd": "/bin/" + g[14],
        }
        if g[15]:
            ad["Arguments"] = g[15]
        assert _condor.format_nobatch_row(ad, int(now)) == line + "\n"
        rendered_ads.append(ad)
    assert "\n" + _condor.summary_line(rendered_ads) == "\n" + rec[10] + "\n"


def test_batch_rows_match_manual():
    rec = REC["q_batch_manual"]["stdout"].split("\n")
    rows = [
        ("wenger", "DAG: 3696", "2/12 11:55", 0, 10, 0, 0, 10, "3698.0 ... 3707.0"),
        ("wenger", "DAG: 3697", "2/12 11:55", 1, 1, 1, 0, 10, "3709.0 ... 3710.0"),
    ]
    assert _condor.format_batch_table(rows, show_hold=False) == "\n".join(rec[2:5]) + "\n"
    held = REC["q_batch_held_manual"]["stdout"].split("\n")
    rows = [("wenger", "CMD: /bin/slee", "9/13 16:25", 0, 3, 0, 1, 4, "599.0 ...")]
    assert _condor.format_batch_table(rows, show_hold=True) == "\n".join(held[2:4]) + "\n"
    statuses = [2] * 3 + [5]
    assert _condor.summary_line([{"JobStatus": s} for s in statuses]) == held[5] + "\n"


def test_condor_q_human_output_end_to_end(condor, tmp_path):
    exe = script(tmp_path, "sleep.sh", "sleep 30\n")
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\narguments = 30\nqueue\n")
    wait_status(condor, f"{cluster}.0", 2)
    lines = condor.run("condor_q", "-nobatch").stdout.split("\n")
    assert lines[0] == ""
    assert re.fullmatch(r"-- Schedd: \S+ : <127\.0\.0\.1:9618\?\.\.\. @ \d\d/\d\d/\d\d \d\d:\d\d:\d\d", lines[1])
    assert lines[2] + "\n" == _condor.NOBATCH_HEADER
    assert re.fullmatch(rf"{cluster}\.0   \S+ +\d+/\d+ \d\d:\d\d   0\+00:00:\d\d R  0    0\.0 sleep\.sh 30", lines[3])
    assert lines[4:] == ["", "1 jobs; 0 completed, 0 removed, 0 idle, 1 running, 0 held, 0 suspended", ""]
    batch = condor.run("condor_q").stdout.split("\n")
    assert batch[2].startswith("OWNER ") and batch[2].endswith("SUBMITTED   DONE   RUN    IDLE  TOTAL JOB_IDS")
    assert re.search(rf"ID: {cluster} +\S+ \S+ +_ +1 +_ +1 {cluster}\.0$", batch[3])


def test_condor_q_daemon_down_and_retry(condor, tmp_path):
    """B2CORE_STANDIN_FAIL_NEXT=condor_q:2 -> two failures, then normal answers."""
    rec = REC["q_daemon_down"]
    condor.setenv("B2CORE_STANDIN_FAIL_NEXT", "condor_q:2")
    for _ in range(2):
        proc = condor.run("condor_q", "-json")
        assert (
            re.sub(r"alias=[^&]*", "alias=host", proc.stderr).replace(f": {_hostname()}\n", ": host\n") == rec["stderr"]
        )
        assert (proc.stdout, proc.returncode) == (rec["stdout"], rec["returncode"])
    proc = condor.run("condor_q", "-json")
    assert (proc.stdout, proc.stderr, proc.returncode) == ("", "", 0)
    assert condor.count("condor_q") == 3
    assert [c["argv"][1:] for c in condor.calls("condor_q")] == [["-json"]] * 3


def _hostname():
    import socket

    return socket.gethostname().split(".")[0]


def test_unknown_options(condor, tmp_path):
    proc = condor.run("condor_q", "-bogus")
    assert proc.stderr.split("\n")[0] == REC["q_unknown_option"]["stderr_first_line"]
    assert proc.returncode == 1
    rec = REC["history_unknown_option"]
    proc = condor.run("condor_history", "-bogus")
    assert proc.stderr == rec["stderr"] and proc.stdout.split("\n")[0] == rec["stdout_first_line"]
    assert proc.returncode == 1
    proc = condor.run("condor_rm", "-bogus")
    assert proc.stderr.split("\n")[0] == REC["rm_unknown_option"]["stderr_first_line"]
    assert proc.returncode == 1
    proc = condor.run("condor_submit", "-bogus", "x.sub")
    assert proc.stderr.startswith("Usage: condor_submit [options]") and proc.returncode == 1


# ------------------------------------------------------- running, finishing, history


def test_jobs_run_finish_and_move_to_history(condor, tmp_path):
    rec = REC["history_json"]
    exe = script(tmp_path, "exit.sh", 'echo "pwd=$(pwd)"; echo oops >&2; sleep "$2"; exit $1\n')
    log = tmp_path / "sleep.log"
    text = f"executable = {exe}\narguments = $(code) $(delay)\nlog = {log}\noutput = out.$(ProcId)\n"
    text += "error = err.$(ProcId)\nqueue code, delay from (\n  0 0\n  3 0.4\n)\n"
    _, cluster = submit(condor, tmp_path, text)
    first = wait_left_queue(condor, f"{cluster}.0")
    second = wait_left_queue(condor, f"{cluster}.1")
    assert first["ExitCode"] == 0 and first["JobStatus"] == 4 and first["ExitBySignal"] is False
    assert second["ExitCode"] == 3
    assert (tmp_path / "out.0").read_text() == f"pwd={tmp_path}\n"
    assert (tmp_path / "err.1").read_text() == "oops\n"
    # finished jobs left the queue ...
    assert condor.run("condor_q", "-json", str(cluster)).stdout == ""
    # ... and are in the history, newest first
    proc = condor.run(*rec["argv"][:-1], str(cluster))
    got = norm_cluster(proc.stdout, cluster).replace(str(log), "/home/kris/sleep.log")
    assert got == rec["stdout"]
    assert (proc.stderr, proc.returncode) == (rec["stderr"], rec["returncode"])
    assert condor.run("condor_history", "-json", "12345").stdout == REC["history_json_empty"]["stdout"]
    limited = json.loads(condor.run("condor_history", "-json", "-limit", "1", str(cluster)).stdout)
    assert [h["ProcId"] for h in limited] == [1]
    table = condor.run("condor_history", str(cluster)).stdout.split("\n")
    assert table[0].split() == ["ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "COMPLETED", "CMD"]
    assert table[1].startswith(f" {cluster}.1 ") and table[2].startswith(f" {cluster}.0 ")


def test_user_log_events_match_manual(condor, tmp_path):
    rec = REC["userlog_quickstart"]["text"]
    exe = script(tmp_path, "true.sh", "exit 0\n")
    log = tmp_path / "job.log"
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nlog = {log}\nqueue\n")
    wait_left_queue(condor, f"{cluster}.0")

    def norm(text):
        text = re.sub(
            r"^(\d{3}) \(\d+\.(\d{3})\.(\d{3})\) \d\d/\d\d \d\d:\d\d:\d\d", r"\1 (C.\2.\3) DATE", text, flags=re.M
        )
        text = re.sub(r"host: <[^>]*>", "host: <ADDR>", text)
        return [line for line in text.split("\n") if not line.startswith("...") and "Usage" not in line]

    assert norm(log.read_text())[:5] == norm(rec)[:5]


def test_environment_getenv_and_environment(condor, tmp_path):
    condor.setenv("STANDIN_SUBMITTER_VAR", "from-submitter")
    exe = script(
        tmp_path, "env.sh", 'echo "[${STANDIN_SUBMITTER_VAR}] [${FOO}] [${BAR}] [${_CONDOR_SCRATCH_DIR:+set}]"\n'
    )
    text = f"executable = {exe}\noutput = out.$(Process)\nenvironment = \"FOO=1 BAR='a b'\"\nqueue\n"
    # submit keys persist across queue statements, as in HTCondor: reset environment
    text += f"executable = {exe}\ngetenv = true\nenvironment =\noutput = out2\nqueue\n"
    _, cluster = submit(condor, tmp_path, text)
    wait_left_queue(condor, f"{cluster}.0")
    wait_left_queue(condor, f"{cluster}.1")
    assert (tmp_path / "out.0").read_text() == "[] [1] [a b] [set]\n"
    assert (tmp_path / "out2").read_text() == "[from-submitter] [] [] [set]\n"


def test_file_transfer_scratch_dir(condor, tmp_path):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "input.txt", "payload\n")
    exe = script(tmp_path, "xfer.sh", 'cat input.txt > result.txt; basename "$(pwd)"; echo "$0"\n')
    text = (
        f"executable = {exe}\nshould_transfer_files = YES\nwhen_to_transfer_output = ON_EXIT\n"
        "transfer_input_files = data/input.txt\noutput = out.txt\nqueue\n"
    )
    _, cluster = submit(condor, tmp_path, text)
    wait_left_queue(condor, f"{cluster}.0")
    assert (tmp_path / "result.txt").read_text() == "payload\n"
    lines = (tmp_path / "out.txt").read_text().split("\n")
    assert lines[0].startswith("dir_") and lines[1].endswith("/condor_exec.exe")


# -------------------------------------------------------------- rm / hold / release


def test_condor_rm_kills_and_messages(condor, tmp_path):
    exe = script(tmp_path, "sleep.sh", "sleep 60\n")
    _, cluster = submit(condor, tmp_path, SLEEP_SUB.format(exe=exe, log=tmp_path / "l", n=2))
    wait_status(condor, f"{cluster}.0", 2)
    wait_status(condor, f"{cluster}.1", 2)
    pids = [job["_run"]["pid"] for job in standin_queue.read_queue("htcondor")["jobs"].values()]
    proc = condor.run("condor_rm", f"{cluster}.1")
    assert norm_cluster(proc.stdout, cluster) == "Job 6.1 marked for removal\n" and proc.returncode == 0
    proc = condor.run("condor_rm", str(cluster))
    assert norm_cluster(proc.stdout, cluster) == REC["rm_cluster"]["stdout"] and proc.stderr == ""
    condor.wait_until(lambda: not any(pid_alive(p) for p in pids), 5)
    history = json.loads(
        condor.run("condor_history", "-json", "-attributes", "JobStatus,RemoveReason", str(cluster)).stdout
    )
    assert [h["JobStatus"] for h in history] == [3, 3]
    assert history[0]["RemoveReason"].startswith("via condor_rm (by user ")
    # errors, as the real tool prints them
    proc = condor.run("condor_rm", f"{cluster}.0")
    rec = REC["rm_job_not_found"]
    assert (proc.stdout, norm_cluster(proc.stderr, cluster), proc.returncode) == (
        rec["stdout"],
        rec["stderr"],
        rec["returncode"],
    )
    rec = REC["rm_empty_queue"]
    proc = condor.run("condor_rm", "7")
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])
    condor.setenv("B2CORE_STANDIN_START_DELAY", "30")
    submit(condor, tmp_path, f"executable = {exe}\nqueue\n")
    rec = REC["rm_cluster_not_found"]
    proc = condor.run("condor_rm", "7")
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])


def test_hold_and_release_rerun_job(condor, tmp_path):
    marker = tmp_path / "runs"
    exe = script(tmp_path, "count.sh", f'echo run >> {marker}\nsleep "$1"\n')
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\narguments = 30\nqueue\n")
    job_id = f"{cluster}.0"
    wait_status(condor, job_id, 2)
    pid = standin_queue.read_queue("htcondor")["jobs"][job_id]["_run"]["pid"]
    proc = condor.run("condor_hold", str(cluster))
    assert norm_cluster(proc.stdout, cluster) == REC["hold_cluster"]["stdout"] and proc.returncode == 0
    condor.wait_until(lambda: not pid_alive(pid), 5)
    held = json.loads(
        condor.run("condor_q", "-json", "-attributes", "JobStatus,HoldReason,HoldReasonCode", job_id).stdout
    )[0]
    assert held["JobStatus"] == 5 and held["HoldReasonCode"] == REC["hold_reason_user"]["HoldReasonCode"]
    assert re.sub(r"by user \S+\)", "by user kris)", held["HoldReason"]) == REC["hold_reason_user"]["HoldReason"]
    rec = REC["hold_job_already_held"]
    proc = condor.run("condor_hold", job_id)
    assert (proc.stdout, norm_cluster(proc.stderr, cluster), proc.returncode) == (
        rec["stdout"],
        rec["stderr"],
        rec["returncode"],
    )
    # release: back to idle, runs again; make the rerun short
    write(tmp_path / "count.sh", f"#!/bin/bash\necho run >> {marker}\n", 0o755)
    proc = condor.run("condor_release", str(cluster))
    assert norm_cluster(proc.stdout, cluster) == REC["release_cluster"]["stdout"] and proc.returncode == 0
    ad = wait_left_queue(condor, job_id)
    assert ad["ExitCode"] == 0 and ad["NumJobStarts"] == 2
    assert marker.read_text() == "run\nrun\n"


def test_release_of_job_not_held(condor, tmp_path):
    condor.setenv("B2CORE_STANDIN_START_DELAY", "30")
    exe = script(tmp_path, "true.sh", "exit 0\n")
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nqueue\n")
    rec = REC["release_job_not_held"]
    proc = condor.run("condor_release", f"{cluster}.0")
    assert (proc.stdout, norm_cluster(proc.stderr, cluster), proc.returncode) == (
        rec["stdout"],
        rec["stderr"],
        rec["returncode"],
    )


def test_non_executable_job_is_held(condor, tmp_path):
    exe = write(tmp_path / "job.sh", "#!/bin/bash\necho never\n", 0o644)
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nqueue\n")
    ad = wait_status(condor, f"{cluster}.0", 5)
    rec = REC["hold_reason_exec_failure"]
    assert ad["HoldReasonCode"] == rec["HoldReasonCode"] and ad["HoldReasonSubCode"] == rec["HoldReasonSubCode"]
    reason = re.sub(r"slot1_1@\S+:", "slot1_1@host:", ad["HoldReason"]).replace(str(tmp_path), "/home/kris")
    assert reason == rec["HoldReason"]


def test_concurrent_submissions_get_unique_clusters(condor, tmp_path):
    exe = script(tmp_path, "true.sh", "exit 0\n")
    write(tmp_path / "job.sub", f"executable = {exe}\nqueue\n")
    procs = [
        subprocess.Popen(
            ["condor_submit", "-terse", "job.sub"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=30)[0] for p in procs]
    clusters = sorted(int(o.split(".")[0]) for o in outputs)
    assert clusters == list(range(clusters[0], clusters[0] + 8))
    assert condor.count("condor_submit") == 8
    for cluster in clusters:
        wait_left_queue(condor, f"{cluster}.0")


# ------------------------------------------------ version, policies the schedd/starter enforce

EXTRA = json.loads((HERE / "htcondor" / "recorded" / "htcondor-extra.json").read_text())


def test_condor_version_matches_recording(condor):
    rec = EXTRA["condor_version"]
    proc = condor.run(*rec["argv"])
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])


@pytest.mark.parametrize("tool", EXTRA["tool_version_option"]["tools"])
def test_every_tool_prints_the_version_with_dash_version(condor, tool):
    proc = condor.run(tool, "-version")
    assert (proc.stdout, proc.stderr, proc.returncode) == (EXTRA["condor_version"]["stdout"], "", 0)


def test_periodic_hold_holds_a_running_job_with_its_reason(condor, tmp_path):
    condor.setenv("B2CORE_STANDIN_CONDOR_POLICY_INTERVAL", "0.2")
    exe = script(tmp_path, "sleep.sh", "sleep 60\n")
    text = (
        f"executable = {exe}\nlog = job.log\n"
        "periodic_hold = (JobStatus == 2) && (time() - JobCurrentStartDate >= 0)\n"
        "queue\n"
        f"executable = {exe}\n"
        "periodic_hold = (JobStatus == 2)\nperiodic_hold_reason = 42\nperiodic_hold_subcode = 7\n"
        "queue\n"
    )
    _, cluster = submit(condor, tmp_path, text)
    first = wait_status(condor, f"{cluster}.0", 5)
    expression = "(JobStatus == 2) && (time() - JobCurrentStartDate >= 0)"
    default = EXTRA["periodic_hold_reason"]["default_hold_reason"].replace("<expression>", expression)
    assert first["HoldReason"] == default
    assert (first["HoldReasonCode"], first["HoldReasonSubCode"]) == (3, 0)
    second = wait_status(condor, f"{cluster}.1", 5)
    assert second["HoldReason"].startswith("The job attribute PeriodicHold expression '(JobStatus == 2)'")
    assert second["HoldReasonSubCode"] == 7, "an unusable periodic_hold_reason falls back to the default text"
    log = (tmp_path / "job.log").read_text()
    assert "Job was held." in log and f"\t{default}\n\tCode 3 Subcode 0\n" in log
    pid = standin_queue.read_job("htcondor", f"{cluster}.0")["_run"]["pid"]
    assert env_wait_dead(condor, pid)


def env_wait_dead(env, pid: int) -> bool:
    return env.wait_until(lambda: not pid_alive(pid))


def test_periodic_remove_removes_a_running_job(condor, tmp_path):
    condor.setenv("B2CORE_STANDIN_CONDOR_POLICY_INTERVAL", "0.2")
    exe = script(tmp_path, "sleep.sh", "sleep 60\n")
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nperiodic_remove = JobStatus == 2\nqueue\n")
    ad = wait_left_queue(condor, f"{cluster}.0")
    assert ad["JobStatus"] == 3
    assert ad["RemoveReason"] == "The job attribute PeriodicRemove expression 'JobStatus == 2' evaluated to TRUE"


def test_memory_limit_holds_a_job_over_its_request(condor, tmp_path):
    rec = EXTRA["memory_limit_hold_reason"]
    condor.setenv("B2CORE_STANDIN_CONDOR_MEMORY_LIMIT", "hard")
    condor.setenv("B2CORE_STANDIN_CONDOR_POLICY_INTERVAL", "0.2")
    hog = write(tmp_path / "hog.py", "import time\nhog = b'x' * (80 * 1024 * 1024)\ntime.sleep(60)\n")
    exe = script(tmp_path, "hog.sh", f'exec "{sys.executable}" {hog}\n')
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nrequest_memory = 20\nqueue\n")
    ad = wait_status(condor, f"{cluster}.0", 5, timeout=30)
    pattern = re.escape(rec["hold_reason"])
    pattern = pattern.replace("testpool\\-gpu\\-20250425144144\\.novalocal", r"\S+")
    pattern = pattern.replace("10624", "20").replace("404", r"(\d+)")
    match = re.fullmatch(pattern, ad["HoldReason"])
    assert match and int(match.group(1)) > 20, ad["HoldReason"]
    assert ad["HoldReasonCode"] == rec["hold_reason_code"]
    assert ad["ResidentSetSize"] > 20 * 1024


def test_jobs_without_a_memory_limit_are_not_held(condor, tmp_path):
    condor.setenv("B2CORE_STANDIN_CONDOR_POLICY_INTERVAL", "0.2")
    hog = write(tmp_path / "hog.py", "import time\nhog = b'x' * (80 * 1024 * 1024)\ntime.sleep(1)\n")
    exe = script(tmp_path, "hog.sh", f'exec "{sys.executable}" {hog}\n')
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nrequest_memory = 20\nqueue\n")
    ad = wait_left_queue(condor, f"{cluster}.0")
    assert (ad["JobStatus"], ad["ExitCode"]) == (4, 0)


def test_per_job_files_keep_reads_proportional(condor, tmp_path):
    """The HTCondor stand-in keeps one file per job, so a monitor reads only its own job."""
    exe = script(tmp_path, "true.sh", "exit 0\n")
    _, cluster = submit(condor, tmp_path, f"executable = {exe}\nqueue 30\n")
    for proc_id in range(30):
        wait_left_queue(condor, f"{cluster}.{proc_id}")
    folder = condor.state_dir / "htcondor"
    assert not (folder / "queue.json").exists()
    assert sorted(p.name for p in (folder / "jobs").iterdir()) == sorted(f"{cluster}.{i}.json" for i in range(30))
    assert standin_queue.read_job("htcondor", f"{cluster}.3")["ad"]["ProcId"] == 3
    assert standin_queue.read_job("htcondor", "1.99") is None


def test_condor_q_json_lists_the_executable_of_the_users_jobs(condor, tmp_path):
    """`condor_q -json -attributes ClusterId,ProcId,JobStatus,Cmd` with no ids: the user's jobs, Cmd absolute."""
    condor.setenv("B2CORE_STANDIN_START_DELAY", "30")  # stay idle
    exe = script(tmp_path, "true.sh", "exit 0\n")
    _, cluster = submit(condor, tmp_path, "executable = true.sh\nqueue 2\n")
    proc = condor.run("condor_q", "-json", "-attributes", "ClusterId,ProcId,JobStatus,Cmd")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == [
        {"ClusterId": cluster, "Cmd": str(exe), "JobStatus": 1, "ProcId": proc_id} for proc_id in (0, 1)
    ]


def test_kill_submitter_marker_kills_the_caller_of_condor_submit_after_it_answered(condor, tmp_path):
    """Test knob: with `kill_submitter` in the state dir, condor_submit submits, answers, kills its caller, once."""
    (condor.state_dir / standin_queue.KILL_SUBMITTER).write_text("")
    exe = script(tmp_path, "true.sh", "exit 0\n")
    write(tmp_path / "job.sub", f"executable = {exe}\nqueue 2\n")
    caller = condor.run("sh", "-c", "condor_submit -terse job.sub; echo survived", cwd=tmp_path)
    assert caller.returncode == -9 and "survived" not in caller.stdout
    cluster = int(re.match(r"(\d+)\.0 - \1\.1\n", caller.stdout).group(1))
    for proc_id in (0, 1):
        assert wait_left_queue(condor, f"{cluster}.{proc_id}")["ExitCode"] == 0
    assert not (condor.state_dir / standin_queue.KILL_SUBMITTER).exists()
    again = condor.run("sh", "-c", "condor_submit -terse job.sub; echo survived", cwd=tmp_path)
    assert again.returncode == 0 and "survived" in again.stdout
