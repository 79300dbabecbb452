"""What a batch backend implements: submit many, query many, cancel many. The core does the rest."""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from b2core.batch.commands import CommandRunner
from b2core.errors import PartialSubmissionError
from pydantic import BaseModel


class JobState(enum.Enum):
    """Where a job is; every backend maps its native states onto these."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """True once the job will not change any more."""
        return self in (JobState.SUCCEEDED, JobState.FAILED)


@dataclass(frozen=True)
class JobStatus:
    """A job's state plus the batch system's own words for it, for failure messages."""

    state: JobState
    native_state: str = ""
    exit_code: int | None = None
    reason: str = ""


@dataclass
class JobSpec:
    """Everything a backend needs to submit one task as a job."""

    task_id: str
    family: str
    wrapper: Path
    stdout: Path
    stderr: Path
    log_dir: Path
    task_file_dir: Path
    job_name: str | None
    attempt: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    task: Any = None


class BatchBackend(ABC):
    """One class per batch system; subclasses set `name` and implement submit, query and cancel."""

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[BaseModel] | None] = None
    #: False when a job id means nothing to a new instance (jobs known only in memory): a restart then
    #: submits such a task again instead of re-attaching to the earlier run's job
    reattachable: ClassVar[bool] = True
    #: False for backends whose jobs must stay one task each (the tasks_per_job setting is then ignored)
    packs_tasks: ClassVar[bool] = True

    def __init__(self, commands: CommandRunner | None = None) -> None:
        self.commands = commands or CommandRunner()

    def check_settings(self) -> None:
        """Check this backend's global settings once at start (SettingsError naming their source), so a
        mistake in settings.json is one error before anything runs, not one per task; default: nothing."""
        return None

    def job_settings(self, task: Any) -> dict[str, Any]:
        """Backend settings for one task (read with get_setting(..., task=task)); never shared objects."""
        return {}

    def group_key(self, spec: JobSpec) -> Hashable:
        """Jobs with equal keys may go out in one submission (one array, one submit file)."""
        return json.dumps(spec.settings, sort_keys=True, default=str)

    @abstractmethod
    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Submit jobs of one group with as few commands as possible; return their ids in order.

        All or nothing: either every spec got a job, or nothing was submitted and the error is raised,
        or PartialSubmissionError names the ids of the leading specs that did get one (submit_each).
        """

    @abstractmethod
    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Status of many jobs in one command (or a fixed few); ids the system does not know are left out."""

    @abstractmethod
    def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancel many jobs at once; must not fail for jobs that already ended."""

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Job ids of (task_id, attempt) submissions whose answer a crash lost, so a restart does not
        submit them twice; None when this batch system cannot tell (the core then submits again)."""
        return None


def submit_each(specs: Sequence[JobSpec], submit_one: Callable[[JobSpec], str]) -> list[str]:
    """Submit one command per job, keeping the submit contract: when a later command fails, raise
    PartialSubmissionError with the ids already handed out, so the engine neither loses nor repeats them."""
    ids: list[str] = []
    for spec in specs:
        try:
            ids.append(submit_one(spec))
        except Exception as error:
            if not ids:
                raise
            raise PartialSubmissionError(ids, error) from error
    return ids
