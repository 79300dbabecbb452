"""Conformance tests of the LSF stand-ins against recorded outputs of the real tools
(``recorded/lsf.json``, sources in ``recorded/README.md``; job arrays: ``lsf/recorded_arrays.json``,
each entry with its source), plus behaviour tests: jobs really run, finish, fail with exit codes
and are killed."""

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
import standin_queue  # noqa: E402

REC = json.loads((HERE / "recorded" / "lsf.json").read_text())
ARR = json.loads((HERE / "lsf" / "recorded_arrays.json").read_text())
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


# -------------------------------------------------------------------- job arrays


def elements(env, job_id: str) -> dict[int, dict]:
    """The element records of one array, by index."""
    return {job["index"]: job for job in env.queue("lsf")["jobs"].values() if str(job["id"]) == job_id}


def wait_elements(env, job_id: str, *stats, timeout: float = 10.0) -> dict[int, dict]:
    """Wait until every element of the array is in one of ``stats``."""
    return env.wait_until(
        lambda: all(j["stat"] in stats for j in elements(env, job_id).values()) and elements(env, job_id), timeout
    )


def test_bsub_array_runs_every_element_with_its_index(lsf, tmp_path):
    lsf.setenv("B2CORE_STANDIN_LSF_NO_REPORT", "1")
    rec = ARR["bsub_array"]
    cmd = 'echo "$LSB_JOBID $LSB_JOBINDEX $LSB_JOBNAME"; echo "err $LSB_JOBINDEX" >&2; test $LSB_JOBINDEX != 3'
    proc, job_id = bsub(lsf, "-J", "myArray[1-4]", "-oo", "out_%J_%I.txt", "-eo", "err_%I.txt", cmd, cwd=tmp_path)
    assert (norm_id(proc.stdout, job_id, "235784"), proc.stderr, proc.returncode) == (
        rec["stdout"],
        rec["stderr"],
        rec["returncode"],
    )
    done = wait_elements(lsf, job_id, "DONE", "EXIT")
    assert sorted(done) == [1, 2, 3, 4]
    assert {i: (j["stat"], j["exit_code"]) for i, j in done.items()} == {
        1: ("DONE", 0),
        2: ("DONE", 0),
        3: ("EXIT", 1),
        4: ("DONE", 0),
    }
    for index in range(1, 5):
        assert (tmp_path / f"out_{job_id}_{index}.txt").read_text() == f"{job_id} {index} myArray[{index}]\n"
        assert (tmp_path / f"err_{index}.txt").read_text() == f"err {index}\n"
    proc, second = bsub(lsf, "-q", "short", "-J", "b[2,5-9:2]", "true", cwd=tmp_path)
    assert proc.stdout == f"Job <{second}> is submitted to queue <short>.\n"
    assert sorted(wait_elements(lsf, second, "DONE")) == [2, 5, 7, 9]


def test_bsub_bad_array_index(lsf, tmp_path):
    rec = ARR["bsub_bad_index"]
    for case in rec["cases"]:
        proc = lsf.run(*case["argv"], cwd=tmp_path)
        assert (proc.stdout, proc.stderr, proc.returncode) == ("", case["stderr"], rec["returncode"])
    assert lsf.queue("lsf")["jobs"] == {}


def test_bjobs_array_tables_match_recordings():
    for key in ("bjobs_table_array_element", "bjobs_table_array_cut_host"):
        rec = ARR[key]
        assert _lsf.format_bjobs_row(*rec["values"]) == rec["stdout"].split("\n")[-2] + "\n"
    assert ARR["bjobs_table_array_element"]["stdout"].startswith(_lsf.BJOBS_HEADER)
    for key in ("bjobs_table_wide_array", "bjobs_table_wide_array_pending"):
        rec = ARR[key]
        rows = "".join(_lsf.format_bjobs_row(*values, wide=True) for values in rec["values"])
        assert _lsf.BJOBS_HEADER + rows == rec["stdout"]


def test_bjobs_lists_array_elements(lsf, tmp_path):
    lsf.setenv("B2CORE_STANDIN_START_DELAY", "30")  # stay PEND
    _, job_id = bsub(lsf, "-J", "1485505963[1-3]", "true", cwd=tmp_path)
    lines = lsf.run("bjobs", "-w").stdout.split("\n")
    assert lines[0] + "\n" == _lsf.BJOBS_HEADER and len(lines) == 5
    for index, line in enumerate(lines[1:4], start=1):  # as in the autosubmit transcript: "   -    " for PEND
        assert re.fullmatch(rf"{job_id} +\S+ +PEND  normal     \S+ +   -     +1485505963\[{index}\] \w{{3}} .+", line)
    rec = ARR["bjobs_array_element_not_found"]
    proc = lsf.run("bjobs", f"{job_id}[2]", f"{job_id}[7]")
    assert (norm_id(proc.stderr, f"{job_id}[7]", "235784[7]"), proc.returncode) == (rec["stderr"], rec["returncode"])
    assert proc.stdout.count("\n") == 2 and "*505963[2]" in proc.stdout  # TRUNC_STR: "*" + the tail
    assert len(lsf.run("bjobs", job_id).stdout.splitlines()) == 4  # the id alone: every element
    assert len(lsf.run("bjobs", f"{job_id}[1-3:2]").stdout.splitlines()) == 3


def test_bjobs_json_of_array_matches_recording(lsf, tmp_path):
    rec = ARR["bjobs_json_array"]
    _, job_id = bsub(lsf, "-J", "myArray[1-2]", "true", cwd=tmp_path)
    wait_elements(lsf, job_id, "DONE")
    proc = lsf.run(*rec["argv"][:-1], job_id)
    assert (proc.stdout.replace(f'"{job_id}"', '"1"'), proc.returncode) == (rec["stdout"], rec["returncode"])
    lsf.setenv("LSB_BJOBS_DISPLAY_ENH", "Y")  # lsf.conf: JOBID shows the element
    assert lsf.run("bjobs", "-a", "-noheader", "-o", "jobid stat", f"{job_id}[2]").stdout == f"{job_id}[2] DONE\n"


def test_bjobs_array_summary(lsf, tmp_path):
    rec = ARR["bjobs_array_summary"]
    _, job_id = bsub(lsf, "-J", "myArray[1-4]", "test $LSB_JOBINDEX != 4", cwd=tmp_path)
    wait_elements(lsf, job_id, "DONE", "EXIT")
    proc = lsf.run("bjobs", "-A", "-a", job_id)
    user = f"{job(lsf, f'{job_id}[1]')['user'][:8]:>8}"
    assert proc.stdout == rec["stdout"].replace("235784 ", f"{job_id} ").replace("    user", user)


def test_bkill_array_elements_and_whole_array(lsf, tmp_path):
    rec = ARR["bkill_array"]
    cmd = "test $LSB_JOBINDEX = 2 && exit 0; sleep 30"
    _, job_id = bsub(lsf, "-J", "k[1-4]", cmd, cwd=tmp_path)
    wait_stat(lsf, f"{job_id}[2]", "DONE")
    for index in (1, 3, 4):
        wait_stat(lsf, f"{job_id}[{index}]", "RUN")
    pids = {i: j["_run"]["pid"] for i, j in elements(lsf, job_id).items() if i != 2}
    for case in rec["cases"]:
        argv = [arg.replace("235784", job_id) for arg in case["argv"]]
        proc = lsf.run(*argv)
        got = (norm_id(proc.stdout, job_id, "235784"), norm_id(proc.stderr, job_id, "235784"), proc.returncode)
        assert tuple(s.replace(f"<{job_id}[", "<235784[") for s in got[:2]) + got[2:] == (
            case["stdout"],
            case["stderr"],
            case["returncode"],
        )
    assert not any(pid_alive(pid) for pid in pids.values())
    final = wait_elements(lsf, job_id, "DONE", "EXIT")
    assert {i: (j["stat"], j.get("exit_reason", "")) for i, j in final.items()} == {
        1: ("EXIT", "TERM_OWNER: job killed by owner"),
        2: ("DONE", ""),
        3: ("EXIT", "TERM_OWNER: job killed by owner"),
        4: ("EXIT", "TERM_OWNER: job killed by owner"),
    }
    proc = lsf.run("bkill", f"{job_id}[9]")
    assert (proc.stderr, proc.returncode) == (f"Job <{job_id}[9]>: No matching job found\n", 255)


def test_array_slot_limit(lsf, tmp_path):
    """An array "name[1-4]%2": never more than two elements run at once, all of them run."""
    _, job_id = bsub(lsf, "-J", "lim[1-4]%2", "sleep 0.5", cwd=tmp_path)
    most = 0

    def finished() -> bool:
        nonlocal most
        stats = [j["stat"] for j in elements(lsf, job_id).values()]
        most = max(most, stats.count("RUN"))
        return stats.count("DONE") == 4

    lsf.wait_until(finished, timeout=20)
    assert most <= 2


def test_bjobs_json_command_of_unfinished_array_elements(lsf, tmp_path):
    """`bjobs -json -o "jobid jobindex stat command"` without ids: the user's unfinished elements, each
    with the command line bsub was given (IBM bjobs -o field `command`, alias `cmd`)."""
    lsf.setenv("B2CORE_STANDIN_START_DELAY", "30")  # stay PEND
    _, pending = bsub(lsf, "-J", "lost[1-2]", "/tmp/some folder/array.sh", cwd=tmp_path)
    lsf.setenv("B2CORE_STANDIN_START_DELAY", "0")
    _, done = bsub(lsf, "-J", "done[1]", "true", cwd=tmp_path)
    wait_elements(lsf, done, "DONE")
    proc = lsf.run("bjobs", "-json", "-o", "jobid jobindex stat command")
    records = json.loads(proc.stdout)["RECORDS"]
    assert proc.returncode == 0
    assert records == [
        {"JOBID": pending, "JOBINDEX": str(index), "STAT": "PEND", "COMMAND": "/tmp/some folder/array.sh"}
        for index in (1, 2)
    ]


def test_kill_submitter_marker_kills_the_caller_of_bsub_after_it_answered(lsf, tmp_path):
    """Test knob: with `kill_submitter` in the state dir, bsub submits, answers, kills its caller, once."""
    (lsf.state_dir / standin_queue.KILL_SUBMITTER).write_text("")
    caller = lsf.run("sh", "-c", 'bsub -J "k[1-2]" true; echo survived', cwd=tmp_path)
    assert caller.returncode == -9 and "survived" not in caller.stdout
    job_id = JOB_RE.search(caller.stdout).group(1)
    assert sorted(wait_elements(lsf, job_id, "DONE")) == [1, 2]
    assert not (lsf.state_dir / standin_queue.KILL_SUBMITTER).exists()
    again = lsf.run("sh", "-c", "bsub true; echo survived", cwd=tmp_path)
    assert again.returncode == 0 and "survived" in again.stdout
