"""End-to-end: real steering scripts run with --batch against the stand-in condor_* commands."""

from __future__ import annotations

import textwrap
from pathlib import Path

from htcondor_pool import Condor


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
