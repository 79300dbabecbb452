"""Reading squeue and sacct output and mapping every Slurm job state onto b2core's JobState.

Pure functions on text, so they are tested with recorded outputs and need no cluster.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass

from b2core.batch.backend import JobState, JobStatus

_HELD = "held: release it with `scontrol release {job_id}` or cancel it"

# Every state squeue or sacct prints (Slurm 22.05 to 24.x), what it means for b2core, and why.
STATE_TABLE: dict[str, tuple[JobState, str]] = {
    # waiting to run
    "PENDING": (JobState.QUEUED, ""),
    "REQUEUED": (JobState.QUEUED, "requeued; it will run again"),
    "REQUEUE_FED": (JobState.QUEUED, "requeued by the federation; it will run again"),
    "REQUEUE_HOLD": (JobState.QUEUED, "requeued and " + _HELD),
    "SPECIAL_EXIT": (JobState.QUEUED, "requeued after a special exit code and " + _HELD),
    "RESV_DEL_HOLD": (JobState.QUEUED, "its reservation was deleted; " + _HELD),
    # has resources: running, or about to run, or about to end (the final state is still unknown)
    "CONFIGURING": (JobState.RUNNING, "resources allocated, nodes are being configured"),
    "RUNNING": (JobState.RUNNING, ""),
    "RESIZING": (JobState.RUNNING, "the job's allocation is being resized"),
    "SUSPENDED": (JobState.RUNNING, "suspended; it keeps its allocation and resumes later"),
    "STOPPED": (JobState.RUNNING, "stopped by SIGSTOP; it keeps its allocation"),
    "SIGNALING": (JobState.RUNNING, "being signalled"),
    "STAGE_OUT": (JobState.RUNNING, "staging out data"),
    "COMPLETING": (JobState.RUNNING, "ending: Slurm is cleaning up"),
    # final
    "COMPLETED": (JobState.SUCCEEDED, ""),
    "BOOT_FAIL": (JobState.FAILED, "its node failed to boot"),
    "CANCELLED": (JobState.FAILED, "cancelled (scancel, an administrator or a dependency)"),
    "DEADLINE": (JobState.FAILED, "it reached its --deadline"),
    "FAILED": (JobState.FAILED, "the job script exited non-zero or could not be started"),
    "NODE_FAIL": (JobState.FAILED, "its node failed"),
    "OUT_OF_MEMORY": (JobState.FAILED, "it exceeded its memory limit"),
    "TIMEOUT": (JobState.FAILED, "it exceeded its time limit (--time)"),
    "PREEMPTED": (JobState.FAILED, "preempted and not requeued"),
    "REVOKED": (JobState.FAILED, "revoked: the federation started it on another cluster"),
}

FINAL_STATES = frozenset(name for name, (state, _) in STATE_TABLE.items() if state.finished)
_QUIET_REASONS = {"", "None", "(null)", "NonZeroExitCode"}
_ARRAY_RANGE = re.compile(r"^(\d+)_\[([^\]]*)\]$")
_BASE_ID = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class Row:
    """One job (or array element) as squeue or sacct printed it."""

    job_id: str
    state: str
    exit_code: str = ""
    reason: str = ""


def base_id(job_id: str) -> str:
    """The job id Slurm accepts in -j for a job or for every element of its array ("123_4" -> "123")."""
    match = _BASE_ID.match(job_id.strip())
    if match is None:
        raise ValueError(f"not a Slurm job id: {job_id!r}")
    return match.group(1)


def state_word(native: str) -> str:
    """The state name alone: sacct writes "CANCELLED by 0" and its fixed-width output "CANCELLED+"."""
    words = native.strip().split()
    return words[0].rstrip("+").upper() if words else ""


def expand_ids(job_id: str) -> list[str]:
    """Element ids a line stands for: "123_[0-2,5%2]" (a pending array) -> 123_0, 123_1, 123_2, 123_5."""
    match = _ARRAY_RANGE.match(job_id.strip())
    if match is None:
        return [job_id.strip()]
    base, spec = match.groups()
    spec = spec.split("%", 1)[0]
    ids = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        bounds, _, step_text = part.partition(":")
        first, _, last = bounds.partition("-")
        try:
            start, stop, step = int(first), int(last or first), int(step_text or 1)
        except ValueError:
            continue
        ids += [f"{base}_{index}" for index in range(start, stop + 1, max(step, 1))]
    return ids


def parse_rows(text: str, fields: int) -> Iterator[Row]:
    """Rows of '|'-separated output (squeue --format=%i|%T|%r, sacct -P), array ranges expanded."""
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("|", fields - 1)
        if len(parts) < 2 or not _BASE_ID.match(parts[0].strip()):
            continue
        parts += [""] * (fields - len(parts))
        if fields == 3:
            job_id, state, reason = parts
            exit_code = ""
        else:
            job_id, state, exit_code, reason = parts[:4]
        for element in expand_ids(job_id):
            yield Row(element, state.strip(), exit_code.strip(), reason.strip())


def parse_squeue(text: str) -> dict[str, Row]:
    """squeue --noheader -r -t all --format=%i|%T|%r output by job id."""
    return {row.job_id: row for row in parse_rows(text, 3)}


def parse_sacct(text: str) -> dict[str, Row]:
    """sacct -X -n -P -o JobID,State,ExitCode,Reason output by job id (steps and blank lines skipped)."""
    return {row.job_id: row for row in parse_rows(text, 4) if "." not in row.job_id}


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """Slurm's "exit:signal" ("3:0" -> (3, 0), "0:15" -> (0, 15)); (None, None) when absent or odd."""
    exit_text, _, signal_text = text.strip().partition(":")
    try:
        return int(exit_text), int(signal_text or 0)
    except ValueError:
        return None, None


def signal_words(number: int) -> str:
    """Words like "killed by signal 15 (SIGTERM)"; Slurm's special codes above 64 (0:125 for OOM) stay numeric."""
    if 0 < number < 65:
        try:
            return f"killed by signal {number} ({signal.Signals(number).name})"
        except ValueError:
            return f"killed by signal {number}"
    return f"Slurm signal code {number}"


def to_status(row: Row) -> JobStatus:
    """Map one row onto a JobStatus; an unknown state is a failure with a clear reason, never an error."""
    word = state_word(row.state)
    native = word or row.state.strip() or "UNKNOWN"
    exit_status, signal_number = parse_exit_code(row.exit_code)
    slurm_reason = row.reason if row.reason not in _QUIET_REASONS else ""
    if word not in STATE_TABLE:
        reason = f"unrecognised Slurm state {row.state.strip()!r}; b2core treats it as failed"
        return JobStatus(JobState.FAILED, native, exit_status, _join(reason, slurm_reason))
    state, meaning = STATE_TABLE[word]
    meaning = meaning.format(job_id=row.job_id)
    by_user = re.match(r"\S+\s+by\s+(\d+)", row.state.strip())
    if word == "CANCELLED" and by_user:
        meaning = f"cancelled by user id {by_user.group(1)} (scancel or an administrator)"
    if not state.finished:
        return JobStatus(state, native, reason=_join(meaning, slurm_reason))
    details = []
    if signal_number:
        details.append(signal_words(signal_number))
    if state is JobState.SUCCEEDED and (exit_status or signal_number):
        state = JobState.FAILED
        meaning = f"Slurm says {native} but the exit code is {row.exit_code}"
    code = exit_status if not signal_number else None
    if state is JobState.FAILED and not exit_status and not signal_number:
        code = None  # "ended CANCELLED with exit code 0" would only confuse
    if state is JobState.SUCCEEDED:
        return JobStatus(state, native, code)
    return JobStatus(state, native, code, _join(meaning, *details, slurm_reason))


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
