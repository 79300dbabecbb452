"""End-to-end: real steering scripts run with --batch against the stand-in bsub/bjobs/bkill."""

from __future__ import annotations

import importlib.util
import re
import signal
import textwrap
from collections import Counter

from b2core_lsf.backend import parse_bjobs
from lsf_cluster import LsfCluster

NUMBERS = textwrap.dedent(
    """
    import random

    import b2core as b2luigi


    class MyNumberTask(b2luigi.Task):
        some_parameter = b2luigi.IntParameter()
        queue = "l"
        job_slots = 2
        job_name = "numbers"

        def output(self):
            yield self.add_to_output("output_file.txt")

        def run(self):
            if self.some_parameter == 3:
                raise ValueError("number three is cursed")
            with open(self.get_output_file_name("output_file.txt"), "w") as f:
                f.write(f"{random.random()}\\n")


    class MyAverageTask(b2luigi.Task):
        def requires(self):
            for i in range(10):
                yield self.clone(MyNumberTask, some_parameter=i)

        def output(self):
            yield self.add_to_output("average.txt")

        def run(self):
            numbers = [float(open(name).read()) for name in self.get_input_file_names("output_file.txt")]
            with open(self.get_output_file_name("average.txt"), "w") as f:
                f.write(f"{sum(numbers) / len(numbers)}\\n")


    if __name__ == "__main__":
        b2luigi.set_setting("batch_system", "lsf")
        b2luigi.process(MyAverageTask(), workers=20, batch=True)
    """
)


def array_elements(lsf: LsfCluster) -> Counter[str]:
    """How often each task's wrapper was put into a submitted array script."""
    wrappers: Counter[str] = Counter()
    for script in lsf.folder.rglob("task_files/.submissions/lsf-*/array.sh"):
        wrappers.update(re.findall(r"^\s+\d+\) exec (\S+) ", script.read_text(), re.MULTILINE))
    return wrappers


def submitted_ids(lsf: LsfCluster) -> list[str]:
    """Array job ids from the recorded bsub answers: the `-J name[1-N]` argument gives N."""
    return [call["argv"][call["argv"].index("-J") + 1] for call in lsf.calls("bsub")]


def lsf_states(lsf: LsfCluster) -> dict[str, str]:
    """What bjobs says now about every job this test's run submitted."""
    parents = sorted({record[2].split("[")[0] for record in lsf.job_records() if record[2]})
    answer = lsf.command("bjobs", "-a", "-json", "-o", "jobid jobindex stat exit_code exit_reason", *parents)
    return {job_id: status.native_state for job_id, status in (parse_bjobs(answer.stdout) or {}).items()}


def test_number_tasks_go_out_as_one_array_with_queue_slots_and_name(lsf: LsfCluster) -> None:
    """10 tasks, one bsub: -q/-n/-J from the settings; task 3 fails naming its stderr file and exit code."""
    result = lsf.run(lsf.script(NUMBERS))
    assert result.returncode == 1, result.stderr[-3000:]
    (bsub,) = lsf.calls("bsub")
    argv = bsub["argv"]
    assert argv[argv.index("-q") + 1] == "l" and argv[argv.index("-n") + 1] == "2"
    assert argv[argv.index("-J") + 1] == "numbers[1-10]" and argv[argv.index("-env") + 1] == "all"
    stderr_path = lsf.folder / "logs" / "some_parameter=3" / "MyNumberTask" / "stderr"
    assert str(stderr_path) in result.stderr and "number three is cursed" in result.stderr
    assert re.search(r"job \d+\[\d+\] ended EXIT with exit code 1", result.stderr)
    assert len(list(lsf.folder.glob("some_parameter=*/output_file.txt"))) == 9
    assert not (lsf.folder / "average.txt").exists()


def test_unset_job_slots_sends_no_n_option(lsf: LsfCluster) -> None:
    """b2luigi sent `-n False` when job_slots was unset; b2core leaves -n out."""
    result = lsf.run(lsf.sleepers(0, 2))
    assert result.returncode == 0, result.stderr[-3000:]
    (bsub,) = lsf.calls("bsub")
    assert "-n" not in bsub["argv"] and "False" not in bsub["argv"]
    assert bsub["argv"][bsub["argv"].index("-q") + 1] == "s"


def test_200_tasks_go_out_in_few_bsub_calls(lsf: LsfCluster) -> None:
    """200 runnable tasks: a handful of job arrays, one bjobs per poll for all of them."""
    script = lsf.light_leaves(200)
    result = lsf.run(script, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(lsf.folder.glob("number=*/leaf.txt"))) == 200
    submits, queries = lsf.calls("bsub"), lsf.calls("bjobs")
    print(f"200 tasks: {len(submits)} bsub, {len(queries)} bjobs")
    assert 1 <= len(submits) <= 5
    assert len(array_elements(lsf)) == 200 and set(array_elements(lsf).values()) == {1}
    duration = lsf.calls()[-1]["time"] - submits[0]["time"]
    assert len(queries) <= duration / 0.3 + 3


def test_ctrl_c_kills_every_job_with_one_bkill(lsf: LsfCluster) -> None:
    """SIGINT to the steering process: all its jobs go in one bkill, none keeps running."""
    process = lsf.start(lsf.sleepers(120, 12))
    lsf.wait_for(lambda: list(lsf_states(lsf).values()).count("RUN") == 12, what="12 running jobs")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "cancelled 12 batch job(s)" in stdout + stderr
    kills = lsf.calls("bkill")
    assert len(kills) == 1, kills
    assert re.fullmatch(r"\d+\[1-12\]", " ".join(kills[0]["argv"][1:])), kills[0]["argv"]
    states = lsf_states(lsf)
    assert len(states) == 12 and set(states.values()) == {"EXIT"}, stderr[-2000:]


def test_restart_reattaches_instead_of_submitting_again(lsf: LsfCluster) -> None:
    """SIGKILL the steering process with jobs in flight; the restart re-attaches, nothing is submitted twice."""
    script = lsf.sleepers(4, 10)
    process = lsf.start(script)
    lsf.wait_for(lambda: len([r for r in lsf.job_records() if r[2]]) == 10, what="10 submitted jobs recorded")
    process.kill()
    process.communicate()
    assert "RUN" in lsf_states(lsf).values() or "PEND" in lsf_states(lsf).values()
    result = lsf.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(lsf.folder.glob("number=*/slept.txt"))) == 10
    assert len(lsf.calls("bsub")) == 1
    assert len(array_elements(lsf)) == 10 and set(array_elements(lsf).values()) == {1}


def test_auto_prefers_lsf_over_htcondor_when_both_answer(lsf: LsfCluster) -> None:
    """batch_system = auto with bsub and condor_submit on PATH: LSF (priority 30) wins."""
    assert importlib.util.find_spec("b2core_htcondor"), "the lsf tox env installs b2core-htcondor for this test"
    lsf.systems = ["lsf", "htcondor"]
    script = lsf.sleepers(0, 3, settings={})
    result = lsf.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(lsf.calls("bsub")) == 1 and not lsf.calls("condor_submit")
    assert len(list(lsf.folder.glob("number=*/slept.txt"))) == 3


def test_steering_killed_between_bsub_and_bookkeeping_finds_its_jobs(lsf: LsfCluster) -> None:
    """bsub answered but the job ids never reached the job store: the restart finds the array elements (find)."""
    lsf.lose_a_submission_and_restart(
        6, "bsub", lambda: [f"{job['id']}[{job['index']}]" for job in lsf.jobs().values()]
    )
    assert len(array_elements(lsf)) == 7 and set(array_elements(lsf).values()) == {1}
