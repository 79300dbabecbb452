"""End-to-end: real steering scripts run with --batch against the stand-in bsub/bjobs/bkill."""

from __future__ import annotations

import importlib.util
import re
import textwrap

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


def test_auto_prefers_lsf_over_htcondor_when_both_answer(lsf: LsfCluster) -> None:
    """batch_system = auto with bsub and condor_submit on PATH: LSF (priority 30) wins."""
    assert importlib.util.find_spec("b2core_htcondor"), "the lsf tox env installs b2core-htcondor for this test"
    lsf.systems = ["lsf", "htcondor"]
    script = lsf.sleepers(0, 3, settings={})
    result = lsf.run(script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(lsf.calls("bsub")) == 1 and not lsf.calls("condor_submit")
    assert len(list(lsf.folder.glob("number=*/slept.txt"))) == 3
