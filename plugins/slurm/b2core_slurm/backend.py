"""The Slurm backend: one sbatch per submission (a job array for several tasks), one squeue plus at
most one sacct per poll for all active jobs, one scancel per cancel.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from b2core.batch.arrays import find_lost_submissions, submission_dir, write_array_script
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.commands import CommandRunner
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.settings import check_given_setting, get_merged_dict, get_setting

from b2core_slurm.settings import SlurmSettings
from b2core_slurm.states import Row, base_id, parse_sacct, parse_squeue, to_status

logger = logging.getLogger("b2core.batch.slurm")

SUBMIT_SCRIPT = "slurm_parameters.sh"
ARRAY_INDEX_VARIABLE = "SLURM_ARRAY_TASK_ID"
DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's default MaxArraySize: indices 0..1000
OPTION_KEY = re.compile(r"[a-z][a-z0-9-]*\Z")
MANAGED_OPTIONS = {
    "array": "b2core builds job arrays itself (see the max_array_size setting)",
    "output": "each task's stdout goes to its log folder (see the log_dir setting)",
    "error": "each task's stderr goes to its log folder (see the log_dir setting)",
    "parsable": "b2core always submits with --parsable",
    "wrap": "b2core writes the job script itself",
}
PERMANENT_SBATCH_ERROR = re.compile(
    r"unrecognized option|invalid|not available|not permitted|permission denied|access denied|violates"
    r"|unable to open file|no such file|not supported|can not be satisfied|cannot be satisfied|too many",
    re.IGNORECASE,
)
ACCOUNTING_DISABLED = "accounting storage is disabled"
ENV_SETTING_PREFIX = "B2CORE_"
ENV_SETTING_NAMES = ("B2LUIGI_SETTINGS_JSON",)
_SAFE_DIRECTIVE_VALUE = re.compile(r"[A-Za-z0-9_.,:=/+@%^-]+\Z")


class SlurmBackend(BatchBackend):
    """Submits tasks with sbatch (job arrays for bulk submissions), polls squeue and sacct in bulk."""

    name = "slurm"
    settings_model = SlurmSettings

    def __init__(self, commands: CommandRunner | None = None) -> None:
        super().__init__(commands)
        self.accounting = True  # False once sacct said accounting storage is disabled
        self._max_array_size: int | None = None
        self._missing_once: set[str] = set()

    # --- settings ------------------------------------------------------------------------------

    def check_settings(self) -> None:
        """The global slurm_settings, once at start, named by the file (or variable) they come from."""
        check_given_setting("slurm_settings", validate_options)

    def job_settings(self, task: Any) -> dict[str, Any]:
        """slurm_settings (global merged with the task's own) plus job-name from job_name, validated."""
        options = get_merged_dict("slurm_settings", task)
        job_name = get_setting("job_name", task=task)
        if job_name is not None:
            options.setdefault("job-name", job_name)
        return validate_options(options, f"Task {getattr(task, 'task_id', task)}")

    # --- submitting ----------------------------------------------------------------------------

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """One plain sbatch for a single task; one sbatch --array per chunk for several."""
        if len(specs) == 1:
            return [self._submit_single(specs[0])]
        limit = self.max_array_size()
        if limit <= 1:
            return self._all_or_nothing([[spec] for spec in specs], lambda chunk: [self._submit_single(chunk[0])])
        chunks = [list(specs[start : start + limit]) for start in range(0, len(specs), limit)]
        return self._all_or_nothing(chunks, self._submit_array)

    def _all_or_nothing(self, chunks: list[list[JobSpec]], submit_chunk: Any) -> list[str]:
        """Submit chunk after chunk; if one fails, cancel the ones already out so a retry duplicates nothing."""
        ids: list[str] = []
        for chunk in chunks:
            try:
                ids += submit_chunk(chunk)
            except BatchCommandError:
                if ids:
                    logger.warning("Cancelling %d job(s) of a partly failed submission", len(ids))
                    self.cancel(ids)
                raise
        return ids

    def _submit_single(self, spec: JobSpec) -> str:
        options = {"output": sbatch_filename(spec.stdout), "error": sbatch_filename(spec.stderr)}
        options["job-name"] = spec.settings.get("job-name") or spec.family
        options.update(spec.settings)
        script = write_submit_script(spec.task_file_dir, options, spec.wrapper)
        return self._sbatch(script)

    def _submit_array(self, specs: list[JobSpec]) -> list[str]:
        folder = submission_dir(self.name)
        array_script = write_array_script(specs, ARRAY_INDEX_VARIABLE, folder)
        settings = specs[0].settings
        families = {spec.family for spec in specs}
        options: dict[str, Any] = {
            "array": f"0-{len(specs) - 1}",
            "output": sbatch_filename(folder) + "/slurm-%A_%a.out",
            "job-name": settings.get("job-name") or (families.pop() if len(families) == 1 else "b2core"),
        }
        options.update(settings)
        job_id = self._sbatch(write_submit_script(folder, options, array_script))
        return [f"{job_id}_{index}" for index in range(len(specs))]

    def _sbatch(self, script: Path) -> str:
        argv = ["sbatch", "--parsable", str(script)]
        try:
            result = self.commands.run(argv, cwd=str(script.parent))
        except BatchCommandError as error:
            if error.returncode == 127 or PERMANENT_SBATCH_ERROR.search(error.stderr or error.stdout or ""):
                raise PermanentBatchError(error.argv, error.returncode, error.stdout, error.stderr) from None
            raise
        return parse_sbatch_output(result.stdout, argv, result.stderr)

    def max_array_size(self) -> int:
        """Most elements one array may have here (MaxArraySize), asked once per run."""
        if self._max_array_size is None:
            self._max_array_size = DEFAULT_MAX_ARRAY_SIZE
            try:
                result = self.commands.run(["scontrol", "show", "config"])
                match = re.search(r"^MaxArraySize\s*=\s*(\d+)", result.stdout, re.MULTILINE)
                if match:
                    self._max_array_size = int(match.group(1))
            except BatchCommandError as error:
                logger.debug("scontrol show config failed, assuming MaxArraySize=%d: %s", DEFAULT_MAX_ARRAY_SIZE, error)
        return self._max_array_size

    # --- polling -------------------------------------------------------------------------------

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One squeue for all jobs, then one sacct for those squeue no longer shows or shows finished."""
        wanted = list(dict.fromkeys(job_ids))
        queue = self._squeue(sorted({base_id(job_id) for job_id in wanted}, key=int))
        statuses: dict[str, JobStatus] = {}
        ask_history = []
        for job_id in wanted:
            row = queue.get(job_id)
            if row is not None:
                statuses[job_id] = to_status(row)
            if row is None or statuses[job_id].state.finished:
                ask_history.append(job_id)
        history = self._sacct(sorted({base_id(job_id) for job_id in ask_history}, key=int)) if ask_history else None
        for job_id in ask_history:
            row = history.get(job_id) if history is not None else None
            if row is None:
                continue
            status = to_status(row)
            if job_id in statuses and not status.state.finished:
                continue  # sacct lags a moment behind slurmctld; squeue already knows the end
            statuses[job_id] = status
        if history is not None:
            self._vanished_elements(wanted, statuses, queue, history)
        return statuses

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Lost submissions are the user's queued or running jobs whose submitted script runs their task."""
        if not submissions:
            return {}
        result = self.commands.run(["squeue", "--me", "--noheader", "-r", "--format=%i|%o"])
        jobs = []
        for line in result.stdout.splitlines():
            job_id, _, command = line.strip().partition("|")
            base, _, index = job_id.partition("_")
            if base.isdigit() and command:
                jobs.append((job_id, Path(command), int(index) if index.isdigit() else None))
        return find_lost_submissions(submissions, jobs)

    def _squeue(self, bases: list[str]) -> dict[str, Row]:
        argv = ["squeue", "--noheader", "-r", "-t", "all", "--format=%i|%T|%r", "-j", ",".join(bases)]
        result = self.commands.run(argv, check=False)
        if result.returncode != 0:
            if "invalid job id" in result.stderr.lower():
                return {}  # every id is purged from slurmctld's memory; sacct knows the rest
            raise BatchCommandError(argv, result.returncode, result.stdout, result.stderr)
        return parse_squeue(result.stdout)

    def _sacct(self, bases: list[str]) -> dict[str, Row] | None:
        """Finished jobs from accounting; None when sacct cannot answer (the core then counts them unknown)."""
        if not self.accounting or not bases:
            return None
        argv = ["sacct", "-X", "-n", "-P", "-o", "JobID,State,ExitCode,Reason", "-j", ",".join(bases)]
        result = self.commands.run(argv, check=False)
        if result.returncode != 0:
            if ACCOUNTING_DISABLED in result.stderr.lower():
                self.accounting = False
                logger.warning(
                    "Slurm accounting is disabled here: jobs purged from squeue (MinJobAge) cannot be "
                    "looked up and count as unknown"
                )
            else:
                logger.warning("sacct failed, using squeue only this time: %s", result.stderr.strip())
            return None
        return parse_sacct(result.stdout)

    def _vanished_elements(
        self, wanted: list[str], statuses: dict[str, JobStatus], queue: dict[str, Row], history: dict[str, Row]
    ) -> None:
        """Array elements cancelled while pending leave no trace at all; report them as cancelled.

        Only when the rest of the array is visible (so the array itself is known) and the element
        was missing on two polls in a row.
        """
        visible = {base_id(job_id) for job_id in (*queue, *history)}
        missing = set()
        for job_id in wanted:
            if job_id in statuses or "_" not in job_id or base_id(job_id) not in visible:
                continue
            missing.add(job_id)
            if job_id in self._missing_once:
                statuses[job_id] = JobStatus(
                    JobState.FAILED,
                    "CANCELLED",
                    reason="the array element vanished from squeue and sacct while its array is still known: "
                    "it was cancelled before it started (Slurm keeps no record of such elements)",
                )
        self._missing_once = missing

    # --- cancelling ----------------------------------------------------------------------------

    def cancel(self, job_ids: Sequence[str]) -> None:
        """One scancel for all jobs; jobs that already ended or are unknown are no error."""
        if not job_ids:
            return
        argv = ["scancel", *compress_ids(job_ids)]
        result = self.commands.run(argv, check=False)
        if result.returncode == 0:
            return
        problems = [
            line
            for line in result.stderr.splitlines()
            if line.strip() and not re.search(r"invalid job id|already completing|completed", line, re.IGNORECASE)
        ]
        if problems:
            raise BatchCommandError(argv, result.returncode, result.stdout, "\n".join(problems))


def validate_options(options: dict[str, Any], owner: str) -> dict[str, Any]:
    """Check slurm_settings keys are sbatch long options and values fit on one #SBATCH line."""
    for key, value in options.items():
        if not isinstance(key, str) or not OPTION_KEY.match(key):
            hint = ""
            if isinstance(key, str):
                candidate = key.strip().lstrip("-").replace("_", "-").lower()
                if OPTION_KEY.match(candidate):
                    hint = f" (did you mean '{candidate}'?)"
            raise SettingsError(
                f"{owner}: slurm_settings key {key!r} is not an sbatch long option name: use lower-case "
                f"letters, digits and '-', without the leading '--'{hint}"
            )
        if key in MANAGED_OPTIONS:
            raise SettingsError(f"{owner}: slurm_settings '{key}' cannot be set: {MANAGED_OPTIONS[key]}")
        if not isinstance(value, bool | int | float | str):
            raise SettingsError(
                f"{owner}: the value of slurm_settings['{key}'] must be a string, number or boolean, "
                f"not {type(value).__name__}"
            )
        if isinstance(value, str) and any(char in value for char in "\n\r\0"):
            raise SettingsError(f"{owner}: the value of slurm_settings['{key}'] must not contain line breaks")
    return options


def sbatch_filename(path: Path | str) -> str:
    """A path for --output/--error with '%' escaped, since Slurm expands %j, %A and friends there."""
    text = str(path)
    return text if "\\" in text else text.replace("%", "%%")


def directive_value(value: Any) -> str:
    """A value as sbatch reads it from an #SBATCH line: quoted when it has spaces, '#', quotes or '\\'."""
    text = str(value)
    if _SAFE_DIRECTIVE_VALUE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def settings_environment() -> dict[str, str]:
    """The steering process's B2CORE_* variables (settings), which --export=NONE would keep from the job."""
    return {
        name: value
        for name, value in sorted(os.environ.items())
        if name.startswith(ENV_SETTING_PREFIX) or name in ENV_SETTING_NAMES
    }


def render_submit_script(options: dict[str, Any], command: Path, environment: dict[str, str] | None = None) -> str:
    """The job script: one #SBATCH line per option, the settings variables, then exec of the command."""
    lines = ["#!/bin/bash", "# Written by b2core-slurm: submitted with sbatch --parsable; safe to read."]
    for key, value in options.items():
        if value is True:
            lines.append(f"#SBATCH --{key}")
        elif value is not False and value is not None:
            lines.append(f"#SBATCH --{key}={directive_value(value)}")
    if environment:
        lines.append("# b2core settings given as environment variables to the steering process:")
        lines += [f"export {name}={shlex.quote(value)}" for name, value in environment.items()]
    lines += [f"exec {shlex.quote(str(command))}", ""]
    return "\n".join(lines)


def write_submit_script(folder: Path, options: dict[str, Any], command: Path) -> Path:
    """Write slurm_parameters.sh into folder (the task's file folder, or the array's submission folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SUBMIT_SCRIPT
    path.write_text(render_submit_script(options, command, settings_environment()))
    return path


def parse_sbatch_output(stdout: str, argv: list[str], stderr: str = "") -> str:
    """The job id from sbatch --parsable ("123" or "123;cluster"); anything else is an error."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if lines:
        job_id = lines[-1].split(";", 1)[0].strip()
        if job_id.isdigit():
            return job_id
    # a job may exist although we cannot name it, so retrying could submit it twice
    raise PermanentBatchError(argv, 0, stdout, f"cannot read a job id from sbatch's output {stdout!r} {stderr}")


def compress_ids(job_ids: Sequence[str]) -> list[str]:
    """Ids for scancel with array elements folded: 12_0 12_1 12_2 12_5 -> 12_[0-2,5]."""
    singles: list[str] = []
    elements: dict[str, list[int]] = {}
    for job_id in dict.fromkeys(job_ids):
        base, _, index = job_id.partition("_")
        if index.isdigit():
            elements.setdefault(base, []).append(int(index))
        else:
            singles.append(job_id)
    words = list(singles)
    for base, indices in elements.items():
        indices.sort()
        runs: list[str] = []
        start = previous = indices[0]
        for index in [*indices[1:], None]:
            if index is not None and index == previous + 1:
                previous = index
                continue
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            if index is not None:
                start = previous = index
        words.append(f"{base}_{runs[0]}" if len(runs) == 1 and "-" not in runs[0] else f"{base}_[{','.join(runs)}]")
    return words
