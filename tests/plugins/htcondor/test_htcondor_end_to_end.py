"""End-to-end: real steering scripts run with --batch against the stand-in condor_* commands."""

from __future__ import annotations

import re
import signal
import textwrap
from collections import Counter
from pathlib import Path

from htcondor_pool import Condor

SEED_EXAMPLE = textwrap.dedent(
    """
    import b2core as b2luigi
    import random


    class MyNumberTask(b2luigi.Task):
        some_parameter = b2luigi.IntParameter()

        htcondor_settings = {"request_cpus": 1, "request_memory": "100 MB"}

        def output(self):
            yield self.add_to_output("output_file.txt")

        def run(self):
            print("I am now starting a task")
            random_number = random.random()

            if self.some_parameter == 3:
                raise ValueError

            with open(self.get_output_file_name("output_file.txt"), "w") as f:
                f.write(f"{random_number}\\n")


    class MyAverageTask(b2luigi.Task):
        htcondor_settings = {"request_cpus": 1, "request_memory": "200 MB"}

        def requires(self):
            for i in range(10):
                yield self.clone(MyNumberTask, some_parameter=i)

        def output(self):
            yield self.add_to_output("average.txt")

        def run(self):
            print("I am now starting the average task")

            # Build the mean
            summed_numbers = 0
            counter = 0
            for input_file in self.get_input_file_names("output_file.txt"):
                with open(input_file, "r") as f:
                    summed_numbers += float(f.read())
                    counter += 1

            average = summed_numbers / counter

            with open(self.get_output_file_name("average.txt"), "w") as f:
                f.write(f"{average}\\n")


    if __name__ == "__main__":
        b2luigi.process(MyAverageTask(), workers=200, batch=True)
    """
)


def submitted_wrappers(condor: Condor) -> Counter[str]:
    """How often each task's wrapper was queued (the stand-in's Cmd), over queue and history."""
    return Counter(job["ad"]["Cmd"] for job in condor.jobs().values())


def test_seed_example_runs_in_one_submission_and_reports_the_failing_task(condor: Condor) -> None:
    """The seeds' HTCondor example: task 3 raises, the run exits 1 naming its stderr; one condor_submit."""
    condor.extra_env["B2CORE_BATCH_SYSTEM"] = "htcondor"
    result = condor.run(condor.script(SEED_EXAMPLE))
    assert result.returncode == 1, result.stderr[-3000:]
    stderr_path = condor.folder / "logs" / "some_parameter=3" / "MyNumberTask" / "stderr"
    assert "MyNumberTask" in result.stderr and str(stderr_path) in result.stderr
    assert "ValueError" in stderr_path.read_text()
    assert "exit code 1" in result.stderr
    for number in set(range(10)) - {3}:
        assert (condor.folder / f"some_parameter={number}" / "output_file.txt").exists()
    assert not (condor.folder / "average.txt").exists()
    assert len(condor.calls("condor_submit")) == 1
    submit_file = next(condor.folder.glob("task_files/.submissions/htcondor-*/job.submit")).read_text()
    assert "request_memory = 100 MB" in submit_file and "request_cpus = 1" in submit_file
    assert submit_file.count("executable_wrapper.sh") == 10
    assert len({job["ad"]["ClusterId"] for job in condor.jobs().values()}) == 1
    assert not [job for job in condor.jobs().values() if job["in_queue"]]


def test_200_tasks_go_out_in_few_submissions_and_polls(condor: Condor) -> None:
    """200 runnable tasks: a handful of condor_submit calls, one condor_q per poll for all of them."""
    script = condor.light_leaves(200)
    result = condor.run(script, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(condor.folder.glob("number=*/leaf.txt"))) == 200
    submits, queries = condor.calls("condor_submit"), condor.calls("condor_q")
    print(
        f"200 tasks: {len(submits)} condor_submit, {len(queries)} condor_q, "
        f"{len(condor.calls('condor_history'))} condor_history"
    )
    assert 1 <= len(submits) <= 5
    assert all(count == 1 for count in submitted_wrappers(condor).values())
    duration = condor.calls()[-1]["time"] - submits[0]["time"]
    assert len(queries) <= duration / 0.3 + 3
    clusters = sorted({str(job["ad"]["ClusterId"]) for job in condor.jobs().values()})
    assert all(call["argv"][-len(clusters) :] == clusters for call in queries)
    assert len(condor.calls("condor_history")) <= len(queries)


def test_held_job_is_reported_with_its_hold_reason_and_removed(condor: Condor) -> None:
    """A job HTCondor holds fails with the HoldReason in the message and does not stay in the queue."""
    script = condor.script(
        textwrap.dedent(
            """
            import os
            import subprocess
            import time

            import b2core as b2luigi


            class HeldTask(b2luigi.Task):
                htcondor_settings = {"getenv": "True"}

                def output(self):
                    yield self.add_to_output("never.txt")

                def run(self):
                    ad = dict(line.split(" = ", 1) for line in open(os.environ["_CONDOR_JOB_AD"]).read().splitlines())
                    job = f"{ad['ClusterId']}.{ad['ProcId']}"
                    # as the schedd would: from outside the job's process group
                    hold = ["condor_hold", "-reason", "memory usage exceeded request_memory", job]
                    subprocess.Popen(hold, start_new_session=True)
                    time.sleep(60)


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.process(HeldTask(), batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "memory usage exceeded request_memory" in result.stderr
    assert "HELD" in result.stderr and "removed from the queue" in result.stderr
    assert len(condor.calls("condor_rm")) == 1
    (job,) = condor.jobs().values()
    assert not job["in_queue"] and job["ad"]["JobStatus"] == 3


def test_held_job_is_released_when_allowed(condor: Condor) -> None:
    """With htcondor_release_held = 1 a job held once is released and then succeeds."""
    script = condor.script(
        textwrap.dedent(
            """
            import os
            import subprocess
            import time

            import b2core as b2luigi


            class HeldOnce(b2luigi.Task):
                htcondor_settings = {"getenv": "True"}

                def output(self):
                    yield self.add_to_output("done.txt")

                def run(self):
                    ad = dict(line.split(" = ", 1) for line in open(os.environ["_CONDOR_JOB_AD"]).read().splitlines())
                    if ad["NumJobStarts"] == "0":
                        hold = ["condor_hold", "-reason", "transient", f"{ad['ClusterId']}.{ad['ProcId']}"]
                        subprocess.Popen(hold, start_new_session=True)
                        time.sleep(60)
                    with open(self.get_output_file_name("done.txt"), "w") as f:
                        f.write("ok\\n")


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.set_setting("htcondor_release_held", 1)
                b2luigi.process(HeldOnce(), batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (condor.folder / "done.txt").exists()
    assert len(condor.calls("condor_release")) == 1 and not condor.calls("condor_rm")


def test_failing_job_names_its_exit_code_and_stderr_file(condor: Condor) -> None:
    """A job that exits non-zero: the message names the job, its exit code, its stderr file and tail."""
    script = condor.script(
        textwrap.dedent(
            """
            import sys

            import b2core as b2luigi


            class Broken(b2luigi.Task):
                def output(self):
                    yield self.add_to_output("never.txt")

                def run(self):
                    print("the input file is corrupt", file=sys.stderr)
                    sys.exit(7)


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.process(Broken(), batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 1
    stderr_path = condor.folder / "logs" / "Broken" / "stderr"
    assert str(stderr_path) in result.stderr
    assert "exit code 7" in result.stderr and "the input file is corrupt" in result.stderr
    assert re.search(r"job \d+\.0 ended COMPLETED", result.stderr)


def test_ctrl_c_removes_every_job_with_one_condor_rm(condor: Condor) -> None:
    """SIGINT to the steering process: all its jobs go in one condor_rm, none stays in the queue."""
    script = condor.sleepers(120, 12)
    process = condor.start(script)
    condor.wait_for(
        lambda: sum(job["ad"]["JobStatus"] == 2 for job in condor.jobs().values()) == 12,
        what="12 running jobs",
    )
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "cancelled 12 batch job(s)" in stdout + stderr
    removals = condor.calls("condor_rm")
    assert len(removals) == 1, removals
    assert len(removals[0]["argv"]) == 1 + 12
    assert not [job for job in condor.jobs().values() if job["in_queue"]], stderr[-2000:]


def test_restart_reattaches_instead_of_submitting_again(condor: Condor) -> None:
    """SIGKILL the steering process with jobs in flight; the restart re-attaches, nothing is queued twice."""
    script = condor.sleepers(4, 10)
    process = condor.start(script)
    condor.wait_for(
        lambda: len([r for r in condor.job_records() if r[2]]) == 10 and len(condor.jobs()) == 10,
        what="10 submitted jobs recorded",
    )
    process.kill()
    process.communicate()
    assert [job for job in condor.jobs().values() if job["in_queue"]], "jobs should still be in flight"
    result = condor.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(condor.folder.glob("number=*/slept.txt"))) == 10
    wrappers = submitted_wrappers(condor)
    assert len(wrappers) == 10 and set(wrappers.values()) == {1}
    assert len(condor.calls("condor_submit")) == 1


def test_auto_picks_htcondor_when_its_commands_are_on_path(condor: Condor) -> None:
    """batch_system = auto (the default) with only condor_* on PATH submits to HTCondor."""
    script = condor.sleepers(0, 3, settings={})
    result = condor.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(condor.calls("condor_submit")) == 1
    assert all(Path(job["ad"]["Cmd"]).name == "executable_wrapper.sh" for job in condor.jobs().values())


def test_folders_with_blanks_still_go_out_in_one_condor_submit(condor: Condor) -> None:
    """Paths with blanks cannot be queue items; one queue statement per task keeps a single condor_submit."""
    folder = condor.folder / "my analysis"
    folder.mkdir()
    condor.folder = folder
    result = condor.run(condor.sleepers(0, 3))
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(folder.glob("number=*/slept.txt"))) == 3
    assert len(condor.calls("condor_submit")) == 1
    assert len(condor.jobs()) == 3


def test_htcondor_settings_per_task_merge_with_the_global_ones_and_never_leak(condor: Condor) -> None:
    """Global htcondor_settings updated per task; different settings make separate submissions; job_name, env_script."""
    env_script = condor.folder / "setup.sh"
    env_script.write_text("export SETUP_MARKER=sourced-by-the-wrapper\n")
    script = condor.script(
        textwrap.dedent(
            f"""
            import os

            import b2core as b2luigi


            class Special(b2luigi.Task):
                htcondor_settings = {{"request_memory": "70 MB", "+Flavour": '"short"', "requirements": "True"}}

                def output(self):
                    yield self.add_to_output("special.txt")

                def run(self):
                    with open(self.get_output_file_name("special.txt"), "w") as f:
                        f.write("special\\n")


            class Plain(b2luigi.Task):
                number = b2luigi.IntParameter()
                job_name = "my-analysis"
                env_script = {str(env_script)!r}

                def output(self):
                    yield self.add_to_output("plain.txt")

                def run(self):
                    with open(self.get_output_file_name("plain.txt"), "w") as f:
                        f.write(os.environ.get("SETUP_MARKER", "not sourced") + "\\n")


            class All(b2luigi.WrapperTask):
                def requires(self):
                    yield Special()
                    for number in range(3):
                        yield Plain(number=number)


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.set_setting("htcondor_settings", {{"request_memory": "50 MB", "+Project": '"belle"'}})
                b2luigi.process(All(), workers=10, batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(condor.calls("condor_submit")) == 2, "two groups of settings, two submissions"
    ads = {job["ad"]["Cmd"]: job["ad"] for job in condor.jobs().values()}
    special = [ad for cmd, ad in ads.items() if "/Special/" in cmd]
    plain = [ad for cmd, ad in ads.items() if "/Plain/" in cmd]
    assert len(special) == 1 and len(plain) == 3
    assert special[0]["RequestMemory"] == 70 and special[0]["Flavour"] == "short"
    assert special[0]["Project"] == "belle", "the global settings apply to every task"
    assert special[0]["Requirements"] == {"__expr__": "True"}
    assert "JobBatchName" not in special[0]
    for ad in plain:
        assert ad["RequestMemory"] == 50 and ad["Project"] == "belle"
        assert "Flavour" not in ad, "one task's settings never leak into another task's jobs"
        assert ad["JobBatchName"] == "my-analysis"
    for number in range(3):
        assert (condor.folder / f"number={number}" / "plain.txt").read_text() == "sourced-by-the-wrapper\n"


def test_transfer_files_are_flattened_into_the_scratch_folder(condor: Condor) -> None:
    """transfer_files with working_dir = '.': HTCondor copies the files into the job's scratch folder, flattened."""
    inputs = condor.folder / "inputs" / "deep"
    inputs.mkdir(parents=True)
    (inputs / "calibration.txt").write_text("calibration constants\n")
    script = condor.script(
        textwrap.dedent(
            f"""
            import os

            import b2core as b2luigi


            class Reader(b2luigi.Task):
                # the steering file too: the job runs `python steering.py` in its scratch folder
                transfer_files = [{str(inputs / "calibration.txt")!r}, os.path.abspath(__file__)]
                working_dir = "."

                def output(self):
                    yield self.add_to_output("seen.txt")

                def run(self):
                    with open("calibration.txt") as f:  # flattened into the job's folder
                        text = f.read()
                    with open(self.get_output_file_name("seen.txt"), "w") as f:
                        f.write(text + os.getcwd() + "\\n")


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.set_setting("result_dir", {str(condor.folder / "results")!r})  # on the shared file system
                b2luigi.process(Reader(), batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    text, cwd = (condor.folder / "results" / "seen.txt").read_text().splitlines()
    assert text == "calibration constants"
    assert cwd != str(condor.folder) and Path(cwd).name.startswith("dir_"), "the job ran in its scratch folder"
    (job,) = condor.jobs().values()
    assert job["ad"]["ShouldTransferFiles"] == "YES"
    assert job["ad"]["TransferInput"] == f"{inputs / 'calibration.txt'},{condor.folder / 'steering.py'}"


def test_job_held_by_its_periodic_hold_expression_is_reported_and_removed(condor: Condor) -> None:
    """A periodic_hold from htcondor_settings holds the running job; the run fails with that reason, nothing stays."""
    script = condor.script(
        textwrap.dedent(
            """
            import time

            import b2core as b2luigi


            class TooLong(b2luigi.Task):
                htcondor_settings = {
                    "periodic_hold": "(JobStatus == 2) && (time() - JobCurrentStartDate >= 1)",
                    "periodic_hold_reason": '"ran longer than the site allows"',
                    "periodic_hold_subcode": 42,
                }

                def output(self):
                    yield self.add_to_output("never.txt")

                def run(self):
                    time.sleep(120)


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.process(TooLong(), batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "ran longer than the site allows" in result.stderr and "HELD" in result.stderr
    assert len(condor.calls("condor_rm")) == 1 and not condor.calls("condor_hold")
    (job,) = condor.jobs().values()
    assert not job["in_queue"] and job["ad"]["JobStatus"] == 3
    assert job["ad"]["HoldReasonCode"] == 3 and job["ad"]["HoldReasonSubCode"] == 42


def test_job_over_its_memory_request_is_held_by_htcondor_and_reported(condor: Condor) -> None:
    """With a hard memory limit (cgroups) a job using more than request_memory is held; the message says so."""
    condor.extra_env["B2CORE_STANDIN_CONDOR_MEMORY_LIMIT"] = "hard"
    script = condor.script(
        textwrap.dedent(
            """
            import time

            import b2core as b2luigi


            class Greedy(b2luigi.Task):
                htcondor_settings = {"request_memory": "150 MB"}

                def output(self):
                    yield self.add_to_output("never.txt")

                def run(self):
                    hog = b"x" * (300 * 1024 * 1024)  # really touched, so it is resident
                    time.sleep(120)
                    print(len(hog))


            if __name__ == "__main__":
                b2luigi.set_setting("batch_system", "htcondor")
                b2luigi.process(Greedy(), batch=True)
            """
        )
    )
    result = condor.run(script)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Job has gone over cgroup memory limit of 150 megabytes" in result.stderr
    assert "removed from the queue" in result.stderr
    (job,) = condor.jobs().values()
    assert not job["in_queue"] and job["ad"]["HoldReasonCode"] == 34
    assert job["ad"]["ResidentSetSize"] > 150 * 1024


def test_auto_does_not_pick_htcondor_when_the_schedd_does_not_answer(condor: Condor) -> None:
    """condor_* on PATH is not enough: auto asks condor_q, and a dead schedd means no backend and a clear error."""
    condor.extra_env["B2CORE_STANDIN_FAIL_NEXT"] = "condor_q:100"  # the schedd is down for the whole run
    script = condor.sleepers(0, 2, settings={})
    result = condor.run(script)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "found no usable batch system" in output and "condor_q -totals failed" in output
    assert not condor.calls("condor_submit")
    assert {tuple(call["argv"][1:]) for call in condor.calls("condor_q")} == {("-totals",)}


def test_auto_runs_nothing_on_htcondor_without_its_commands(condor: Condor) -> None:
    """Without condor_* on PATH, auto (with the local fallback allowed) runs the tasks locally."""
    condor.systems = []
    script = condor.sleepers(0, 2, settings={"auto_fallback_to_local": True})
    result = condor.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(condor.folder.glob("number=*/slept.txt"))) == 2
    assert "jobs local:" in result.stdout + result.stderr
    assert not condor.calls()


def test_steering_killed_between_condor_submit_and_bookkeeping_finds_its_jobs(condor: Condor) -> None:
    """condor_submit answered but the job ids never reached the job store: the restart finds the jobs (find)."""
    condor.lose_a_submission_and_restart(
        6, "condor_submit", lambda: [job_id for job_id, job in condor.jobs().items() if job["in_queue"]]
    )
    wrappers = submitted_wrappers(condor)
    assert len(wrappers) == 7 and set(wrappers.values()) == {1}
