"""The Grid Engine backend: one qsub array job per group of tasks, one qstat -xml per poll, qacct for
finished tasks, qdel in bulk."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from b2core.batch.arrays import find_lost_submissions, index_ranges, submission_dir, write_array_script
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.settings import check_given_setting, get_merged_dict, get_setting

from b2core_sge.settings import SGESettings

logger = logging.getLogger("b2core.sge")

#: Grid Engine's array index variable, 1-based
INDEX_VARIABLE = "SGE_TASK_ID"
#: characters Grid Engine refuses in a job name (and a leading digit)
_NAME_UNSAFE = re.compile(r"[\s/:@\\*?=,]+")
#: a slot count or range of qsub -pe (4, 2-8, 4-)
_SLOTS = re.compile(r"\d+(-\d*)?\Z|-\d+\Z")
#: one name or value of a qsub -l list
_RESOURCE_WORD = re.compile(r"[^\s,=]+\Z")
#: failures of qmaster worth retrying; every other qsub error is permanent (unknown queue, bad option ...)
_TRANSIENT = re.compile(r"unable to contact qmaster|commlib error|timeout|try again|can't connect", re.I)
#: qdel/qacct answers about jobs that are gone already (not an error for us)
_GONE = re.compile(r"does not exist|not found|already|deleted|for deletion", re.I)


class SGEBackend(BatchBackend):
    """Submits groups of tasks as one array job (`qsub -t 1-N`); task i runs specs[i-1] with its own logs."""

    name = "sge"
    settings_model = SGESettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accounting_problem = ""  # qacct's last complaint about unreadable accounting, warned once

    def check_settings(self) -> None:
        """The global sge_settings, once at start, named by the file (or variable) they come from."""
        check_given_setting("sge_settings", check_qsub_options)

    def job_settings(self, task: Any) -> dict[str, Any]:
        """sge_settings (global merged with the task's own) and the job name."""
        options = check_qsub_options(get_merged_dict("sge_settings", task), f"Task {task.task_id}")
        options["job_name"] = str(get_setting("job_name", task=task) or task.get_task_family())
        return options

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """One qsub for the group: array job `-t 1-N` whose task i runs specs[i-1]."""
        if not specs:
            return []
        folder = submission_dir(self.name)
        script = write_array_script(specs, INDEX_VARIABLE, folder, first_index=1)
        argv = qsub_argv(specs[0].settings, len(specs), folder, script)
        result = self.commands.run(argv, cwd=str(folder), check=False)
        job = re.match(r"(\d+)(\.|$)", result.stdout.strip())
        if result.returncode != 0 or job is None:
            text = (result.stderr.strip() or result.stdout.strip() or "no output") + f" (array script {script})"
            error = BatchCommandError if _TRANSIENT.search(result.stderr + result.stdout) else PermanentBatchError
            raise error(argv, result.returncode, result.stdout, text)
        return [f"{job.group(1)}.{index}" for index in range(1, len(specs) + 1)]

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One `qstat -xml` for every job; tasks gone from it are looked up with one `qacct -j` per array."""
        argv = ["qstat", "-xml"]
        result = self.commands.run(argv)
        queued = parse_qstat(result.stdout, argv)
        statuses = {job_id: queued[job_id] for job_id in job_ids if job_id in queued}
        errors = [job_id for job_id, status in statuses.items() if status.state is JobState.FAILED]
        gone: dict[str, list[str]] = defaultdict(list)
        for job_id in job_ids:
            if job_id not in queued:
                gone[job_id.split(".")[0]].append(job_id)
        for job, ids in gone.items():
            statuses.update(self._accounting(job, ids))
        if errors:
            self.cancel(errors)  # a task in error state stays in the queue forever otherwise
        return statuses

    def _accounting(self, job: str, ids: list[str]) -> dict[str, JobStatus]:
        """Final states from `qacct -j`; if accounting is unreadable, the task's outputs decide (and we say so)."""
        result = self.commands.run(["qacct", "-j", job], check=False)
        if result.returncode == 0:
            finished = parse_qacct(job, result.stdout)
            return {job_id: finished[job_id] for job_id in ids if job_id in finished}
        if _GONE.search(result.stderr + result.stdout):
            return {}  # not flushed into the accounting file yet, or deleted before it ran
        problem = " ".join((result.stderr + result.stdout).split())[:300] or f"exit code {result.returncode}"
        if problem != self.accounting_problem:
            self.accounting_problem = problem
            logger.warning(
                "qacct cannot read the accounting (%s): tasks that left the queue are judged by their outputs", problem
            )
        reason = f"left the queue; qacct cannot read the accounting ({problem}), so the task's outputs decide"
        return {job_id: JobStatus(JobState.SUCCEEDED, "gone", reason=reason) for job_id in ids}

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Lost submissions are the user's unfinished array tasks whose array script runs their task."""
        if not submissions:
            return {}
        argv = ["qstat", "-xml"]
        tasks = parse_qstat(self.commands.run(argv).stdout, argv)
        if not tasks:
            return {}
        jobs = sorted({job_id.split(".")[0] for job_id in tasks}, key=int)
        argv = ["qstat", "-xml", "-j", ",".join(jobs)]
        scripts = parse_scripts(self.commands.run(argv, check=False).stdout)
        found = []
        for job_id in tasks:
            job, _, index = job_id.partition(".")
            if job in scripts:
                found.append((job_id, Path(scripts[job]), int(index)))
        return find_lost_submissions(submissions, found)

    def cancel(self, job_ids: Sequence[str]) -> None:
        """qdel every task in one call, as `JOB.first-last` ranges; tasks already ended are fine."""
        indices: dict[str, list[int]] = defaultdict(list)
        for job_id in job_ids:
            job, _, index = job_id.partition(".")
            indices[job].append(int(index))
        targets = [
            f"{job}.{a}-{b}" if a != b else f"{job}.{a}" for job in indices for a, b in index_ranges(indices[job])
        ]
        if not targets:
            return
        argv = ["qdel", *targets]
        result = self.commands.run(argv, check=False)
        problems = [
            line for line in (result.stderr + result.stdout).splitlines() if line.strip() and not _GONE.search(line)
        ]
        if result.returncode != 0 and problems:
            raise BatchCommandError(argv, result.returncode, result.stdout, "; ".join(problems))


# --- pure functions, unit-tested against recorded outputs of a real cell ------------------------------


def check_qsub_options(options: dict[str, Any], owner: str) -> dict[str, Any]:
    """Values qsub would refuse on every submission (or read as other options); owner starts each error."""
    for key, value in options.items():
        if any(char in str(value) for char in "\n\r\0"):
            raise SettingsError(f"{owner}: sge_settings['{key}'] must be a single line")
    environment = str(options.get("parallel_environment") or "").split()
    if environment and (len(environment) != 2 or not _SLOTS.match(environment[1])):
        raise SettingsError(
            f"{owner}: sge_settings['parallel_environment'] must be a parallel environment and a slot count "
            f"or range, e.g. 'smp 4' (qsub -pe smp 4), not {options['parallel_environment']!r}"
        )
    limits = {key: options[key] for key in ("h_rt", "h_vmem") if key in options}
    limits.update(options.get("resources") or {})
    for name, value in limits.items():
        if not _RESOURCE_WORD.match(str(name)) or not _RESOURCE_WORD.match(str(value)):
            raise SettingsError(
                f"{owner}: the resource {name}={value!r} of sge_settings cannot go into qsub -l: names and "
                "values may not be empty or contain spaces, ',' or '='"
            )
    if int(options.get("max_running_tasks") or 0) < 0:
        raise SettingsError(f"{owner}: sge_settings['max_running_tasks'] must be at least 1 (or 0: no limit)")
    return options


def qsub_argv(settings: dict[str, Any], count: int, folder: Path, script: Path) -> list[str]:
    """The qsub command of one array job; the submitter's environment goes along (-V), as with Slurm's default."""
    name = _NAME_UNSAFE.sub("_", str(settings.get("job_name") or "b2core"))
    name = f"b{name}" if name[:1].isdigit() else name
    argv = ["qsub", "-terse", "-V", "-S", "/bin/bash", "-wd", str(folder), "-N", name, "-t", f"1-{count}"]
    argv += ["-o", f"{folder}/sge-$JOB_ID.$TASK_ID.out", "-e", f"{folder}/sge-$JOB_ID.$TASK_ID.err"]
    if settings.get("max_running_tasks"):
        argv += ["-tc", str(settings["max_running_tasks"])]
    for key, flag in (("queue", "-q"), ("project", "-P")):
        if settings.get(key):
            argv += [flag, str(settings[key])]
    if settings.get("parallel_environment"):
        argv += ["-pe", *str(settings["parallel_environment"]).split()]
    limits = {key: settings[key] for key in ("h_rt", "h_vmem") if settings.get(key)}
    limits.update(settings.get("resources") or {})
    if limits:
        argv += ["-l", ",".join(f"{key}={value}" for key, value in limits.items())]
    return [*argv, str(script)]


def _xml(output: str, argv: list[str]) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(output)
    except ElementTree.ParseError as error:
        raise BatchCommandError(argv, 0, output, f"unreadable qstat -xml output: {error}") from None


def parse_qstat(output: str, argv: list[str]) -> dict[str, JobStatus]:
    """Statuses by task id (`JOB.INDEX`) from `qstat -xml`; pending ranges (`1-10:1,12`) are expanded."""
    statuses = {}
    for entry in _xml(output, argv).iter("job_list"):
        job, state = entry.findtext("JB_job_number", ""), entry.findtext("state", "")
        for index in expand_tasks(entry.findtext("tasks") or "1"):
            statuses[f"{job}.{index}"] = status_from_state(state, f"{job}.{index}")
    return statuses


def expand_tasks(text: str) -> list[int]:
    """Array task indices of qstat's `tasks` field: `4`, `1,2` or `5-10:1`."""
    indices: list[int] = []
    for part in text.split(","):
        span, _, step = part.partition(":")
        first, _, last = span.partition("-")
        indices += range(int(first), int(last or first) + 1, int(step or 1))
    return indices


def status_from_state(state: str, job_id: str) -> JobStatus:
    """Map qstat's state letters: E(rror) fails, r/t/s/S/T/d (running, transferring, suspended, deleting) run."""
    if "E" in state:
        reason = f"Grid Engine put the task in error state (qstat -j {job_id.split('.')[0]} says why); it is deleted"
        return JobStatus(JobState.FAILED, state, reason=reason)
    running = any(letter in state for letter in "rtsSTd")
    return JobStatus(JobState.RUNNING if running else JobState.QUEUED, state)


def parse_qacct(job: str, output: str) -> dict[str, JobStatus]:
    """Final statuses by task id from `qacct -j JOB` (the last record of a task wins)."""
    statuses = {}
    for block in output.split("=" * 62):
        fields = dict(line.split(None, 1) for line in block.splitlines() if len(line.split(None, 1)) == 2)
        if fields.get("jobnumber", "").strip() != job or "exit_status" not in fields:
            continue
        failed, _, why = fields.get("failed", "0").partition(":")
        code = int(fields["exit_status"].split()[0])
        ok = failed.strip() == "0" and code == 0
        reason = why.strip() if failed.strip() != "0" else ""
        state = JobStatus(JobState.SUCCEEDED if ok else JobState.FAILED, "DONE" if ok else "EXIT", code, reason)
        statuses[f"{job}.{fields.get('taskid', '1').strip()}"] = state
    return statuses


def parse_scripts(output: str) -> dict[str, str]:
    """Submitted script by job number from `qstat -xml -j JOBS`; {} when the answer is no XML."""
    try:
        root = ElementTree.fromstring(output)
    except ElementTree.ParseError:
        return {}
    return {
        element.findtext("JB_job_number", ""): element.findtext("JB_script_file", "")
        for element in root.iter("element")
        if element.findtext("JB_script_file")
    }
