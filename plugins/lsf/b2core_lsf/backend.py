"""The LSF backend: one job array and one bsub per group of tasks, one bjobs per poll, bkill in bulk."""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from b2core.batch.arrays import find_lost_submissions, index_ranges, submission_dir, write_array_script
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.settings import check_given_setting, get_setting

from b2core_lsf.settings import LSFSettings

logger = logging.getLogger("b2core.lsf")

#: the bjobs -o fields every poll asks for
BJOBS_FORMAT = "jobid jobindex stat exit_code exit_reason"
#: the bjobs -o fields find asks for: the job id, its array index and the submitted command (an array script)
FIND_FORMAT = "jobid jobindex stat command"
#: LSF's array index variable, 1-based
INDEX_VARIABLE = "LSB_JOBINDEX"
#: what bsub -q and -n take
_QUEUE = re.compile(r"[A-Za-z0-9_.@+-]+\Z")
_SLOTS = re.compile(r"[1-9]\d*(,[1-9]\d*)?\Z")

STATES = {
    "PEND": JobState.QUEUED,
    "PSUSP": JobState.QUEUED,
    "WAIT": JobState.QUEUED,
    "PROV": JobState.QUEUED,
    "RUN": JobState.RUNNING,
    "USUSP": JobState.RUNNING,
    "SSUSP": JobState.RUNNING,
    "DONE": JobState.SUCCEEDED,
    "EXIT": JobState.FAILED,
    "UNKWN": JobState.FAILED,
    "ZOMBI": JobState.FAILED,
}
LOST = {
    "UNKWN": "LSF lost contact with the job's execution host (UNKWN)",
    "ZOMBI": "the job is a zombie: killed while its execution host was unreachable (ZOMBI)",
}

_SUBMITTED = re.compile(r"Job <(\d+)> is submitted")
_ANY_ID = re.compile(r"<(\d+)>")
#: LSF documents a-z, A-Z, 0-9, '.', '-', '_' as the characters of a job array name
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: longest `-J "name[indexList]"` LSF accepts
_MAX_ARRAY_SPEC = 255
#: bjobs/bkill complaints about jobs that are gone already (not an error for us)
_GONE = re.compile(
    r"is not found|already finished|no matching job|no (unfinished )?job found|is being terminated|has been killed",
    re.IGNORECASE,
)
#: failures of the LSF daemons, worth retrying; every other bsub error is permanent
_TRANSIENT = re.compile(
    r"not responding|try (again|later)|is down|cannot connect|can't connect|timed out|timeout|"
    r"connection refused|not ready|temporarily",
    re.IGNORECASE,
)


class LSFBackend(BatchBackend):
    """Submits groups of tasks as one LSF job array; element i runs task i with its own logs."""

    name = "lsf"
    settings_model = LSFSettings

    def check_settings(self) -> None:
        """The global queue and job_slots, once at start, named by the file (or variable) they come from."""
        check_given_setting("queue", check_queue)
        check_given_setting("job_slots", job_slots)

    def job_settings(self, task: Any) -> dict[str, Any]:
        """queue, job_slots (None when unset) and job name: what goes onto one bsub line."""
        owner = f"Task {task.task_id}"
        slots = job_slots(get_setting("job_slots", task=task), owner)
        name = get_setting("job_name", task=task) or task.get_task_family()
        return {"queue": check_queue(get_setting("queue", task=task), owner), "job_slots": slots, "job_name": str(name)}

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """One bsub for the group: an array `name[1-N]` whose element i runs specs[i-1]."""
        if not specs:
            return []
        settings = specs[0].settings
        folder = submission_dir(self.name)
        script = write_array_script(specs, INDEX_VARIABLE, folder, first_index=1)
        argv = bsub_argv(settings, len(specs), str(folder), str(script))
        result = self.commands.run(argv, cwd=str(folder), check=False)
        job_id = parse_bsub(result.stdout)
        if result.returncode != 0 or job_id is None:
            text = (result.stderr.strip() or result.stdout.strip() or "no output") + f" (array script {script})"
            error = BatchCommandError if _TRANSIENT.search(result.stderr + result.stdout) else PermanentBatchError
            raise error(argv, result.returncode, result.stdout, text)
        return [f"{job_id}[{index}]" for index in range(1, len(specs) + 1)]

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One `bjobs -a -json` for every array (and job) of the given ids."""
        wanted = list(dict.fromkeys(job_ids))
        if not wanted:
            return {}
        parents = list(dict.fromkeys(job_id.split("[")[0] for job_id in wanted))
        argv = ["bjobs", "-a", "-json", "-o", BJOBS_FORMAT, *parents]
        result = self.commands.run(argv, check=False)
        records = parse_bjobs(result.stdout)
        if records is None:
            complaints = [line for line in result.stderr.splitlines() if line.strip()]
            only_gone = bool(complaints) and all(_GONE.search(line) for line in complaints)
            if result.stdout.strip() or not (only_gone or result.returncode == 0):
                raise BatchCommandError(argv, result.returncode, result.stdout, result.stderr or "unreadable output")
            records = {}
        return {job_id: records[job_id] for job_id in wanted if job_id in records}

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Lost submissions are the user's unfinished array elements whose array script runs their task."""
        if not submissions:
            return {}
        argv = ["bjobs", "-json", "-o", FIND_FORMAT]
        result = self.commands.run(argv, check=False)
        jobs = parse_bjobs_commands(result.stdout)
        if jobs is None:
            complaints = [line for line in result.stderr.splitlines() if line.strip()]
            if result.stdout.strip() or not complaints or not all(_GONE.search(line) for line in complaints):
                raise BatchCommandError(argv, result.returncode, result.stdout, result.stderr or "unreadable output")
            jobs = []
        return find_lost_submissions(submissions, ((job_id, Path(command), index) for job_id, index, command in jobs))

    def cancel(self, job_ids: Sequence[str]) -> None:
        """bkill every job in one call, array elements as `ID[1-3,7]`; jobs already ended are fine."""
        targets = compress_ids(job_ids)
        if not targets:
            return  # a bare `bkill` would kill the user's most recent job
        argv = ["bkill", *targets]
        result = self.commands.run(argv, check=False)
        if result.returncode == 0:
            return
        lines = [line for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
        problems = [line for line in lines if not _GONE.search(line)]
        if problems:
            raise BatchCommandError(argv, result.returncode, result.stdout, "; ".join(problems))


# --- pure functions, unit-tested against recorded outputs ---------------------------------------------


def check_queue(queue: str, owner: str) -> str:
    """A queue name bsub -q takes as one word; owner starts the error."""
    if not _QUEUE.match(str(queue)):
        raise SettingsError(f"{owner}: the LSF queue {queue!r} is no queue name (one word, e.g. 's' or 'l')")
    return queue


def job_slots(slots: Any, owner: str) -> int | str | None:
    """job_slots as bsub -n takes it (4 or 'min,max'), None when unset; owner starts the error."""
    if slots is False or slots is None or str(slots).strip().lower() in ("", "0", "false", "none"):
        return None
    if not _SLOTS.match(str(slots).strip()):
        raise SettingsError(
            f"{owner}: job_slots {slots!r} is no slot count for bsub -n: give a number (4) or a range ('2,4')"
        )
    return slots


def bsub_argv(settings: dict[str, Any], count: int, folder: str, script: str) -> list[str]:
    """The bsub command of one array; -n only when job_slots is set (never `-n False`).

    LSF joins the command words into a line its job shell runs, so the script path is shell-quoted.
    """
    name = _NAME_UNSAFE.sub("_", settings.get("job_name") or "b2core") or "b2core"
    name = name[: _MAX_ARRAY_SPEC - len(f"[1-{count}]")]
    argv = ["bsub", "-env", "all", "-q", str(settings.get("queue") or "s")]
    if settings.get("job_slots") is not None:
        argv += ["-n", str(settings["job_slots"])]
    argv += ["-J", f"{name}[1-{count}]", "-oo", f"{folder}/lsf-%J_%I.out", "-eo", f"{folder}/lsf-%J_%I.err"]
    return [*argv, shlex.quote(script)]


def parse_bsub(output: str) -> str | None:
    """The job id from `Job <123> is submitted to queue <s>.` (or the first <number> as a fallback)."""
    match = _SUBMITTED.search(output) or _ANY_ID.search(output)
    return match.group(1) if match else None


def _json_records(output: str) -> list[dict[str, Any]] | None:
    """The RECORDS of `bjobs -json` output; None when the output is no JSON (an error message instead)."""
    text = output.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return [record for record in data.get("RECORDS") or [] if isinstance(record, dict)]


def parse_bjobs(output: str) -> dict[str, JobStatus] | None:
    """Statuses by job id (`123` or `123[4]`) from `bjobs -json -o ...`; None when the output is no JSON."""
    records = _json_records(output)
    if records is None:
        return None
    statuses = {}
    for record in records:
        if record.get("ERROR") or "STAT" not in record:
            continue
        job_id = str(record.get("JOBID", "")).strip()
        index = str(record.get("JOBINDEX") or "").strip()
        if job_id and "[" not in job_id and index not in ("", "0", "-"):
            job_id = f"{job_id}[{index}]"
        if job_id:
            statuses[job_id] = status_from_record(record)
    return statuses


def parse_bjobs_commands(output: str) -> list[tuple[str, int | None, str]] | None:
    """(job id, array index or None, submitted script) of the unfinished jobs in `bjobs -json -o FIND_FORMAT`.

    None when the output is no JSON. Job ids are spelled as query and cancel use them: `123[4]` for elements.
    """
    records = _json_records(output)
    if records is None:
        return None
    jobs = []
    for record in records:
        if record.get("ERROR"):
            continue
        if str(record.get("STAT", "")).strip().upper() in ("DONE", "EXIT"):
            continue
        parent, _, bracket = str(record.get("JOBID", "")).strip().partition("[")
        index_text = bracket.rstrip("]") or str(record.get("JOBINDEX") or "").strip()
        try:
            words = shlex.split(str(record.get("COMMAND") or ""))
        except ValueError:
            continue
        if not parent.isdigit() or not words:
            continue
        index = int(index_text) if index_text.isdigit() and int(index_text) > 0 else None
        jobs.append((f"{parent}[{index}]" if index is not None else parent, index, words[0]))
    return jobs


def status_from_record(record: dict[str, Any]) -> JobStatus:
    """Map one bjobs record (STAT, EXIT_CODE, EXIT_REASON) onto a JobStatus."""
    native = str(record.get("STAT", "")).strip().upper()
    exit_code = _int(record.get("EXIT_CODE"))
    reason = str(record.get("EXIT_REASON") or "").strip()
    reason = "" if reason == "-" else reason
    state = STATES.get(native, JobState.RUNNING)
    if native in LOST:
        reason = reason or LOST[native]
    if native == "DONE":
        exit_code = 0 if exit_code is None else exit_code
    if native == "EXIT" and exit_code is None and not reason:
        reason = "LSF reported no exit code"
    return JobStatus(state, native, exit_code=exit_code, reason=reason)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def compress_ids(job_ids: Sequence[str]) -> list[str]:
    """Job ids for bkill: plain ids as they are, array elements of one job as `ID[1-3,7]`."""
    plain: list[str] = []
    elements: dict[str, list[int]] = defaultdict(list)
    for job_id in dict.fromkeys(job_ids):
        parent, _, rest = job_id.partition("[")
        if rest and rest.rstrip("]").isdigit():
            elements[parent].append(int(rest.rstrip("]")))
        elif job_id:
            plain.append(job_id)
    for parent, indices in elements.items():
        spec = ",".join(f"{a}-{b}" if a != b else str(a) for a, b in index_ranges(indices))
        plain.append(f"{parent}[{spec}]")
    return plain
