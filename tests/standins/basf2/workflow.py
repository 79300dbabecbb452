"""A basf2 analysis workflow run against the stand-in basf2, hadd and b2file-merge, shared by the tests of
b2core-basf2 (b2core names) and of the b2luigi package (b2luigi names): one scenario, two import styles.

Import it with tests/standins/basf2 on sys.path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = HERE / "python"
BIN = HERE / "bin"
FAST = {"B2CORE_POLL_INTERVAL": "0.3", "B2CORE_SUBMIT_INTERVAL": "0.1", "B2CORE_BATCH_COMMAND_RETRY_WAIT": "0.1"}
RELEASE = "release-08-02-04"

B2CORE_IMPORTS = """
import b2core as b2luigi
from b2core_basf2 import Basf2FileMergeTask, Basf2PathTask, HaddTask, ROOTLocalTarget, SimplifiedOutputBasf2Task
"""

B2LUIGI_IMPORTS = """
import b2luigi
from b2luigi.basf2_helper import Basf2PathTask
from b2luigi.basf2_helper.targets import ROOTLocalTarget
from b2luigi.basf2_helper.tasks import Basf2FileMergeTask, HaddTask, SimplifiedOutputBasf2Task
"""

# Written from b2luigi's documentation of basf2_helper: ntuples from a path task merged with hadd,
# skims whose outputs are their RootOutput files merged with b2file-merge.
ANALYSIS = """
import os
import sys

import basf2


class Ntuple(Basf2PathTask):
    experiment = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("ntuple.root")

    def create_path(self):
        path = basf2.create_path()
        path.add_module("EventInfoSetter", evtNumList=[self.experiment * 10])
        path.add_module("VariablesToNtuple", fileName=self.get_output_file_name("ntuple.root"), variables=["M"])
        return path


class Skim(SimplifiedOutputBasf2Task):
    experiment = b2luigi.IntParameter()

    def create_path(self):
        path = basf2.create_path()
        path.add_module("EventInfoSetter", evtNumList=[self.experiment])
        path.add_module("RootOutput", outputFileName=f"skims/exp{self.experiment}/skim.udst.root")
        return path


class Empty(Basf2PathTask):
    def output(self):
        yield self.add_to_output("empty.root")

    def create_path(self):
        open(self.get_output_file_name("empty.root"), "w").close()  # a crashed writer's leftover
        return basf2.create_path()


class MergeNtuples(HaddTask):
    def requires(self):
        for experiment in (1, 2):
            yield Ntuple(experiment=experiment)


class MergeSkims(Basf2FileMergeTask):
    def requires(self):
        for experiment in (1, 2):
            yield Skim(experiment=experiment)


class MergeNtuplesAsSkims(Basf2FileMergeTask):
    def requires(self):
        yield Ntuple(experiment=1)


class Analysis(b2luigi.WrapperTask):
    def requires(self):
        yield MergeNtuples()
        yield MergeSkims()


if __name__ == "__main__":
    root = {"analysis": Analysis, "empty": Empty, "wrong-merge": MergeNtuplesAsSkims}[os.environ["ROOT_TASK"]]
    b2luigi.process(root(), workers=4)
"""


@dataclass
class Basf2Workflow:
    """A folder with the analysis steering script, run with the stand-in basf2 tools on PATH."""

    path: Path
    imports: str
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.path / "analysis.py").write_text(textwrap.dedent(self.imports) + textwrap.dedent(ANALYSIS))

    def environment(self, **extra: str) -> dict[str, str]:
        """This process's environment with the stand-ins first on PATH and PYTHONPATH, a set-up release."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_") or k == "B2CORE_REQUIRE_CLUSTERS"}
        env.update(FAST, BELLE2_RELEASE=RELEASE, PYTHONUNBUFFERED="1", XDG_CONFIG_HOME=str(self.path / "xdg"))
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON), env.get("PYTHONPATH")]))
        env.update(self.env, **extra)
        return env

    def run(self, root: str, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the steering script for one root task, as a user would."""
        return subprocess.run(
            [sys.executable, "analysis.py", *flags],
            cwd=self.path,
            env=self.environment(ROOT_TASK=root, **env),
            input="",
            capture_output=True,
            text=True,
            timeout=240,
        )

    def read(self, relative: str) -> dict:
        """The payload of a stand-in ROOT file of the workflow."""
        if str(PYTHON) not in sys.path:
            sys.path.insert(0, str(PYTHON))
        import basf2

        return basf2.read_fake_root(str(self.path / relative))


def check_analysis(flow: Basf2Workflow, *flags: str, **env: str) -> None:
    """The whole analysis runs; merged files hold every event; a second run has nothing to do."""
    run = flow.run("analysis", *flags, **env)
    assert run.returncode == 0, run.stdout + run.stderr
    ntuples = flow.read("ntuple.root")
    assert ntuples["written_by"] == ["hadd"] and ntuples["events"] == 30
    assert [key["entries"] for key in ntuples["keys"]] == [30]
    assert len(ntuples["input_files"]) == 2
    skims = flow.read("skim.udst.root")
    assert skims["written_by"] == ["b2file-merge"] and skims["events"] == 3
    assert [flow.read(f"skims/exp{e}/skim.udst.root")["events"] for e in (1, 2)] == [1, 2]
    spec = json.loads(next(flow.path.glob("task_files/**/Ntuple/task.json")).read_text())
    assert spec["params"]["git_hash"] == RELEASE
    leftovers = [p.name for p in flow.path.rglob("*") if "tmp" in p.name and p.suffix == ".root"]
    assert leftovers == []
    again = flow.run("analysis", *flags, **env)
    assert again.returncode == 0 and "ran successfully" not in again.stderr, again.stderr


def check_failures(flow: Basf2Workflow, *flags: str, **env: str) -> None:
    """A ROOT output without keys fails its task; b2file-merge refusing ntuples fails the merge, leaving no file."""
    empty = flow.run("empty", *flags, **env)
    assert empty.returncode == 1, empty.stdout + empty.stderr
    assert "empty.root" in empty.stdout + empty.stderr
    wrong = flow.run("wrong-merge", *flags, **env)
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert (flow.path / "experiment=1" / "ntuple.root").exists()
    assert not (flow.path / "ntuple.root").exists()
    assert not [p for p in flow.path.glob("ntuple*") if p.is_file()]
    logs = "".join(p.read_text() for p in (flow.path / "logs").rglob("stderr"))
    assert "is not a basf2 output file (no FileMetaData)" in logs, logs
