"""Conformance tests of the LSF stand-ins against recorded outputs of the real tools
(``recorded/lsf.json``, sources in ``recorded/README.md``), plus behaviour tests:
jobs really run, finish, fail with exit codes and are killed."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "lsf"))

import _lsf  # noqa: E402

REC = json.loads((HERE / "recorded" / "lsf.json").read_text())
JOB_RE = re.compile(r"Job <(\d+)> is submitted to (?:default )?queue <[^>]+>\.")


@pytest.fixture
def lsf(standin_env):
    standin_env.use("lsf")
    return standin_env


def bsub(env, *argv, cwd):
    proc = env.run("bsub", *argv, cwd=cwd)
    match = JOB_RE.search(proc.stdout)
    return proc, (match.group(1) if match else None)


def job(env, job_id: str) -> dict:
    return env.queue("lsf")["jobs"][job_id]


def wait_stat(env, job_id: str, *stats, timeout: float = 10.0) -> dict:
    return env.wait_until(lambda: job(env, job_id)["stat"] in stats and job(env, job_id), timeout)


def norm_id(text: str, job_id: str, to: str) -> str:
    return text.replace(f"<{job_id}>", f"<{to}>").replace(f'"{job_id}"', f'"{to}"')


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------- bsub


def test_bsub_output_matches_recordings(lsf, tmp_path):
    rec = REC["bsub_default_queue"]
    proc, job_id = bsub(lsf, "/not_existing_command", cwd=tmp_path)
    assert norm_id(proc.stdout, job_id, "235784") == rec["stdout"]
    assert (proc.stderr, proc.returncode) == (rec["stderr"], rec["returncode"])
    # LSF runs the command through a shell: a missing command exits 127
    assert wait_stat(lsf, job_id, "EXIT")["exit_code"] == 127
    rec = REC["bsub_queue"]
    proc, job_id2 = bsub(lsf, "-q", "short", "sleep", "0", cwd=tmp_path)
    assert norm_id(proc.stdout, job_id2, "235784") == rec["stdout"]
    assert int(job_id2) == int(job_id) + 1


def test_bsub_invalid_slots(lsf, tmp_path):
    for key, argv in (("bsub_bad_n", ["-env all", "-n", "False", "job.sh"]), ("bsub_zero_n", ["-n", "0", "x"])):
        rec = REC[key]
        proc = lsf.run("bsub", *argv, cwd=tmp_path)
        assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])
    assert lsf.queue("lsf")["jobs"] == {}
    proc = lsf.run("bsub", "-y", "sleep", "1", cwd=tmp_path)
    assert proc.stderr.split("\n")[0] == REC["bsub_illegal_option"]["stderr_first_line"]
    assert proc.returncode == REC["bsub_illegal_option"]["returncode"]


def test_b2luigi_style_submission(lsf, tmp_path):
    """The exact argv b2luigi builds: '-env all' as one element, -eo/-oo, a wrapper script."""
    wrapper = tmp_path / "executable_wrapper.sh"
    wrapper.write_text('#!/bin/bash\necho "out $LSB_JOBID $LSB_QUEUE $B2_TEST_VAR"\necho err >&2\n')
    wrapper.chmod(0o755)
    lsf.setenv("B2_TEST_VAR", "inherited")
    logs = tmp_path / "log"
    logs.mkdir()
    proc, job_id = bsub(
        lsf,
        "-env all",
        "-q",
        "s",
        "-n",
        "2",
        "-J",
        "MyTask",
        "-eo",
        logs / "stderr",
        "-oo",
        logs / "stdout",
        wrapper,
        cwd=tmp_path,
    )
    assert proc.stdout == f"Job <{job_id}> is submitted to queue <s>.\n"
    record = wait_stat(lsf, job_id, "DONE")
    assert record["slots"] == 2
    out = (logs / "stdout").read_text()
    assert out.startswith(f"out {job_id} s inherited\n")
    assert "Successfully completed." in out and f"Subject: Job {job_id}: <MyTask>" in out
    assert (logs / "stderr").read_text() == "err\n"


def test_output_modes_and_exit_codes(lsf, tmp_path):
    lsf.setenv("B2CORE_STANDIN_LSF_NO_REPORT", "1")
    (tmp_path / "o.txt").write_text("old\n")
    _, ok = bsub(lsf, "-o", "o.txt", "echo new; echo to-err >&2", cwd=tmp_path)
    _, bad = bsub(lsf, "-oo", "bad_%J.txt", "-e", "bad.err", "echo x; exit 7", cwd=tmp_path)
    assert wait_stat(lsf, ok, "DONE")["exit_code"] == 0
    assert wait_stat(lsf, bad, "EXIT")["exit_code"] == 7
    assert (tmp_path / "o.txt").read_text() == "old\nnew\nto-err\n"  # -o appends, stderr merged
    assert (tmp_path / f"bad_{bad}.txt").read_text() == "x\n"
    proc = lsf.run("bjobs", "-json", "-o", "jobid stat exit_code", ok, bad)
    records = json.loads(proc.stdout)["RECORDS"]
    assert records == [{"JOBID": ok, "STAT": "DONE", "EXIT_CODE": ""}, {"JOBID": bad, "STAT": "EXIT", "EXIT_CODE": "7"}]


def test_env_none_and_additions(lsf, tmp_path):
    lsf.setenv("B2_TEST_VAR", "inherited")
    lsf.setenv("B2CORE_STANDIN_LSF_NO_REPORT", "1")
    cmd = 'echo "[$B2_TEST_VAR] [$EXTRA] [${LSB_JOBID:+set}]"'
    _, none = bsub(lsf, "-env", "none", "-oo", "none.txt", cmd, cwd=tmp_path)
    _, extra = bsub(lsf, "-env", "all, EXTRA=1", "-oo", "extra.txt", cmd, cwd=tmp_path)
    wait_stat(lsf, none, "DONE")
    wait_stat(lsf, extra, "DONE")
    assert (tmp_path / "none.txt").read_text() == "[] [] [set]\n"
    assert (tmp_path / "extra.txt").read_text() == "[inherited] [1] [set]\n"


# ------------------------------------------------------------------------ bjobs


def test_bjobs_json_matches_recordings(lsf, tmp_path):
    lsf.setenv("B2CORE_STANDIN_START_DELAY", "30")  # stay PEND
    ids = [bsub(lsf, "-J", "hold_job", "sleep", "1", cwd=tmp_path)[1] for _ in range(2)]
    proc = lsf.run("bjobs", "-o", "job_name stat exit_code", ids[0], "-json")
    expected = REC["bjobs_json_one"]["stdout"].replace('"PSUSP"', '"PEND"')
    assert proc.stdout == expected and proc.returncode == 0
    proc = lsf.run("bjobs", "-json", "-o", "jobid stat")
    got = proc.stdout.replace(f'"{ids[0]}"', '"1"').replace(f'"{ids[1]}"', '"2"')
    assert got == REC["bjobs_json_two"]["stdout"]
    rec = REC["bjobs_json_error_record"]
    proc = lsf.run(*rec["argv"])
    assert (proc.stdout, proc.returncode) == (rec["stdout"], rec["returncode"])


def test_bjobs_table_matches_recording():
    rec = REC["bjobs_table_wide"]["stdout"].split("\n")
    assert rec[0] + "\n" == _lsf.BJOBS_HEADER
    values = (
        "5183028",
        "pluskal",
        "RUN",
        "normal",
        "it-c01b14",
        "it-c01b11:it-c01b11",
        "/lab/solexa_weng/Seq_data/Projects/Tomas_Pluskal/20181112_Euphorbia_peplus_SRR2014663/.snakemake/"
        "tmp.a3hy3x2h/snakejob.pfam_parallel.162.sh",
        "Nov 19 13:22",
    )
    assert _lsf.format_bjobs_row(*values, wide=True) == rec[1] + "\n"
    # without -w, long names are cut to the column with a leading '*'
    assert _lsf.format_bjobs_row(*values).split()[6] == "*el.162.sh"


def test_bjobs_table_end_to_end(lsf, tmp_path):
    _, job_id = bsub(lsf, "-J", "sleeper", "sleep", "30", cwd=tmp_path)
    wait_stat(lsf, job_id, "RUN")
    lines = lsf.run("bjobs").stdout.split("\n")
    assert lines[0] + "\n" == _lsf.BJOBS_HEADER
    assert re.fullmatch(rf"{job_id}  \S+ +RUN   normal     \S+ +\S+ +sleeper    \w{{3}} [ \d]\d \d\d:\d\d", lines[1])
    assert lsf.run("bjobs", "-noheader", "-o", "jobid stat").stdout == f"{job_id} RUN\n"


def test_bjobs_messages(lsf, tmp_path):
    rec = REC["bjobs_no_jobs"]
    proc = lsf.run("bjobs")
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])
    rec = REC["bjobs_not_found"]
    proc = lsf.run(*rec["argv"])
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])


def test_finished_jobs_visible_for_clean_period(lsf, tmp_path):
    _, job_id = bsub(lsf, "true", cwd=tmp_path)
    wait_stat(lsf, job_id, "DONE")
    assert lsf.run("bjobs").stderr == "No unfinished job found\n"  # default: unfinished only
    assert f"{job_id}  " in lsf.run("bjobs", "-a").stdout
    assert json.loads(lsf.run("bjobs", "-json", "-o", "jobid stat", job_id).stdout)["RECORDS"] == [
        {"JOBID": job_id, "STAT": "DONE"}
    ]
    lsf.setenv("B2CORE_STANDIN_LSF_CLEAN_PERIOD", "0")
    proc = lsf.run("bjobs", job_id)
    assert (proc.stderr, proc.returncode) == (f"Job <{job_id}> is not found\n", 255)


# ------------------------------------------------------------------------ bkill


def test_bkill_running_job(lsf, tmp_path):
    _, job_id = bsub(lsf, "-oo", "k.txt", "sleep 30", cwd=tmp_path)
    record = wait_stat(lsf, job_id, "RUN")
    pid = record["_run"]["pid"]
    rec = REC["bkill_running"]
    proc = lsf.run("bkill", job_id)
    assert (norm_id(proc.stdout, job_id, "235784"), proc.stderr, proc.returncode) == (
        rec["stdout"],
        rec["stderr"],
        rec["returncode"],
    )
    assert not pid_alive(pid)
    wait_stat(lsf, job_id, "EXIT")
    rec = REC["bkill_exit_code"]
    record = json.loads(lsf.run("bjobs", "-json", "-o", "stat exit_code exit_reason", job_id).stdout)["RECORDS"][0]
    assert record == {"STAT": rec["STAT"], "EXIT_CODE": rec["EXIT_CODE"], "EXIT_REASON": rec["EXIT_REASON"]}
    rec = REC["bkill_finished"]
    proc = lsf.run("bkill", job_id)
    assert (proc.stdout, norm_id(proc.stderr, job_id, "235784"), proc.returncode) == (
        rec["stdout"],
        rec["stderr"],
        rec["returncode"],
    )
    rec = REC["bkill_unknown"]
    proc = lsf.run(*rec["argv"])
    assert (proc.stdout, proc.stderr, proc.returncode) == (rec["stdout"], rec["stderr"], rec["returncode"])


def test_bkill_pending_job(lsf, tmp_path):
    lsf.setenv("B2CORE_STANDIN_START_DELAY", "1")
    _, job_id = bsub(lsf, "touch", "ran", cwd=tmp_path)
    assert lsf.run("bkill", job_id).stdout == f"Job <{job_id}> is being terminated\n"
    assert job(lsf, job_id)["stat"] == "EXIT"
    lsf.wait_until(lambda: True)
    assert not (tmp_path / "ran").exists()


# --------------------------------------------------------------- failure injection


def test_daemon_down_failures_then_recovery(lsf, tmp_path):
    rec = REC["daemon_down"]
    lsf.fail_next("bsub", 1)
    lsf.setenv("B2CORE_STANDIN_FAIL_NEXT", "bjobs:2")
    proc = lsf.run("bsub", "true", cwd=tmp_path)
    assert (proc.stdout, proc.stderr, proc.returncode) == ("", rec["bsub_stderr"], rec["returncode"])
    proc, job_id = bsub(lsf, "true", cwd=tmp_path)
    assert job_id and proc.returncode == 0
    for _ in range(2):
        proc = lsf.run("bjobs", "-json", "-o", "jobid stat", job_id)
        assert (proc.stdout, proc.stderr, proc.returncode) == ("", rec["bjobs_stderr"], rec["returncode"])
    assert lsf.run("bjobs", "-json", "-o", "jobid stat", job_id).returncode == 0
    assert (lsf.count("bsub"), lsf.count("bjobs")) == (2, 3)
    assert lsf.calls("bjobs")[0]["argv"][1:] == ["-json", "-o", "jobid stat", job_id]
