"""Packing (setting ``tasks_per_job``): many runnable tasks with equal job settings go out as one batch
job, one array element per pack, while each task keeps its own job record, logs and exit status.

:class:`PackingBackend` sits between the engine and a backend. The engine still hands it one spec
per task and gets one id per task back; a packed task's id names the pack's job, the task's index in
the pack and the pack's folder, so a restarted steering process can query it from the job store
alone. The pack's job runs :mod:`b2core.batch.packrunner`, whose per-task exit markers are read at
every poll, so finished tasks of a running pack are reported at once. :class:`PackFilling` decides
when packs leave: when full, or when no new task of their kind arrived for ``pack_wait`` seconds.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.packrunner import (
    CANCELLED_DIR,
    DONE_DIR,
    MANIFEST,
    PACK_TASK_ID_PREFIX,
    cancelled_tasks,
    finished_tasks,
)
from b2core.batch.wrapper import (
    job_command,
    render_wrapper,
    task_spec,
    this_workflow,
    wrapped_command,
    write_executable,
    write_wrapper,
)
from b2core.grouping import chunk_key, chunk_log_dir, grouping_size
from b2core.paths import map_folder, task_file_dir
from b2core.settings import get_setting
from b2core.workflow import workflow_of

PACKS_DIR = ".packs"
_PACKED_ID = re.compile(r"(.*) \[task (\d+) of pack (.*)\]\Z", re.DOTALL)
PACK_FAMILY = "b2core-pack"
#: the job id of a packed task whose lost submission is found after its pack's job left the batch system:
#: the task's exit marker, not the batch system, tells how it ended
ENDED_PACK_JOB = "(ended)"


@dataclass(frozen=True)
class PackedId:
    """A packed task's job id: the pack's job on the batch system, the task's index, the pack's folder."""

    job_id: str
    index: int
    folder: Path

    def encode(self) -> str:
        """The id as stored in the job store and shown to users."""
        return f"{self.job_id} [task {self.index} of pack {self.folder}]"

    @staticmethod
    def decode(text: str) -> PackedId | None:
        """The packed id in a stored job id, or None for a job of its own."""
        match = _PACKED_ID.match(text) if text.endswith("]") else None
        return PackedId(match[1], int(match[2]), Path(match[3])) if match else None


def pack_size(backend: BatchBackend, task: Any) -> int:
    """How many tasks like this one share a job on this backend (1: no packing); grouped parameters
    (b2luigi's max_grouping_size) take precedence over tasks_per_job."""
    if task is None or not backend.packs_tasks:
        return 1
    grouped = grouping_size(task)
    return grouped if grouped > 1 else int(get_setting("tasks_per_job", task=task))


def task_wrapper(backend: BatchBackend, task: Any) -> Path:
    """A task's job wrapper; a packed task's job is its pack's, whose manifest holds the task's spec, so
    nothing is written for it (its task folder is made by its job, if the task needs it)."""
    if pack_size(backend, task) > 1:
        return Path(task_file_dir(task)) / "executable_wrapper.sh"
    return write_wrapper(task)


def pack_wrapper(task: Any, pack_id: str, manifest: Path) -> str:
    """The text of a pack job's wrapper: the task's environment and command, running the whole pack."""
    return render_wrapper(task, wrapped_command(task, job_command(task, pack_id, manifest)))


def pack_signature(task: Any) -> str:
    """The pack wrapper this task would get: tasks with equal signatures run alike in one job."""
    return pack_wrapper(task, PACK_TASK_ID_PREFIX, Path(PACK_TASK_ID_PREFIX))


class PackingBackend(BatchBackend):
    """A backend as the engine sees it: tasks with tasks_per_job > 1 go out in packs of that many."""

    def __init__(self, inner: BatchBackend) -> None:
        super().__init__(inner.commands)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # the wrapped backend's name, per instance
        self.settings_model = inner.settings_model  # type: ignore[misc]
        self.packs_tasks = inner.packs_tasks  # type: ignore[misc]
        self.reattachable = inner.reattachable  # type: ignore[misc]
        self._keys: dict[tuple[str, int], Hashable] = {}
        self._signatures: dict[tuple[str, Hashable], str] = {}
        self._decoded: dict[str, PackedId | None] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def job_settings(self, task: Any) -> dict[str, Any]:
        """The wrapped backend's settings for the task."""
        return self.inner.job_settings(task)

    def group_key(self, spec: JobSpec) -> Hashable:
        """The wrapped backend's key, plus pack size and pack wrapper for packed tasks (computed once)."""
        key = self._keys.get((spec.task_id, spec.attempt))
        if key is not None:
            return key
        key = self.inner.group_key(spec)
        size = pack_size(self, spec.task)
        if size > 1:
            chunk = chunk_key(spec.task) if grouping_size(spec.task) > 1 else None
            key = (key, size, self._signature(spec.task, key), chunk)
            self._keys[(spec.task_id, spec.attempt)] = key
        return key

    def _signature(self, task: Any, job_key: Hashable) -> str:
        """The task's pack wrapper; branches of one workflow with equal job settings share the first's."""
        workflow = workflow_of(task)
        if workflow is None:
            return pack_signature(task)
        shared = (workflow, job_key)
        signature = self._signatures.get(shared)
        if signature is None:
            signature = self._signatures[shared] = pack_signature(task)
        return signature

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Submit packs of tasks_per_job tasks as one job each; one id per task, in order."""
        size = pack_size(self, specs[0].task)
        if size == 1:
            return self.inner.submit(specs)
        for spec in specs:
            self._keys.pop((spec.task_id, spec.attempt), None)
        packs = [list(specs[start : start + size]) for start in range(0, len(specs), size)]
        pack_specs = [write_pack(self.name, pack) for pack in packs]
        job_ids = self.inner.submit(pack_specs)
        if len(job_ids) != len(pack_specs):
            return job_ids  # the engine reports the mismatch
        return [
            PackedId(job_id, index, pack_spec.task_file_dir).encode()
            for job_id, pack_spec, pack in zip(job_ids, pack_specs, packs, strict=True)
            for index in range(len(pack))
        ]

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One query of the wrapped backend for every job and pack; packed tasks by their exit markers."""
        decoded = self._decoded
        packed = {}
        for job_id in job_ids:
            pid = decoded.get(job_id, False)
            if pid is False:
                pid = decoded[job_id] = PackedId.decode(job_id)
            packed[job_id] = pid
        own = [job_id for job_id, pid in packed.items() if pid is None]
        pack_jobs = [pid.job_id for pid in packed.values() if pid is not None and pid.job_id != ENDED_PACK_JOB]
        asked = list(dict.fromkeys(own + pack_jobs))
        statuses = self.inner.query(asked) if asked else {}
        result = {job_id: statuses[job_id] for job_id in own if job_id in statuses}
        ended: dict[Path, dict[int, int]] = {}
        for job_id, pid in packed.items():
            if pid is None:
                continue
            if pid.folder not in ended:  # after the query: a pack seen ended has left all its markers
                ended[pid.folder] = finished_tasks(pid.folder)
            status = _packed_status(pid, ended[pid.folder], statuses.get(pid.job_id))
            if status is not None:
                result[job_id] = status
        return result

    def cancel(self, job_ids: Sequence[str]) -> None:
        """Skip cancelled tasks of a pack; cancel the pack's job once none of its tasks is wanted."""
        own, touched = [], {}
        for job_id in job_ids:
            pid = PackedId.decode(job_id)
            if pid is None:
                own.append(job_id)
                continue
            (pid.folder / CANCELLED_DIR).mkdir(exist_ok=True)
            (pid.folder / CANCELLED_DIR / str(pid.index)).touch()
            touched[pid.folder] = pid.job_id
        for folder, job_id in touched.items():
            size = len(json.loads((folder / MANIFEST).read_text())["tasks"])
            if len(set(finished_tasks(folder)) | cancelled_tasks(folder)) >= size and job_id != ENDED_PACK_JOB:
                own.append(job_id)
        if own:
            self.inner.cancel(own)

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Lost submissions: packed tasks are found through their pack's manifest, then the pack's job; a
        task whose pack's job the batch system no longer lists is found if it left its exit marker (it ended
        after the run checked its completeness), else it is submitted again."""
        wanted = set(submissions)
        in_packs: dict[tuple[str, int], tuple[str, int, Path]] = {}
        for manifest in sorted(packs_base().glob(f"{self.name}-*/{MANIFEST}")):
            for index, entry in enumerate(json.loads(manifest.read_text())["tasks"]):
                key = (entry["task_id"], int(entry["attempt"]))
                if key in wanted:
                    in_packs[key] = (PACK_TASK_ID_PREFIX + manifest.parent.name, index, manifest.parent)
        asked = [s for s in submissions if s not in in_packs] + list({(p[0], 1) for p in in_packs.values()})
        found = self.inner.find(asked)
        if found is None:
            return None
        result = {s: job_id for s, job_id in found.items() if s in wanted and s not in in_packs}
        ended: dict[Path, dict[int, int]] = {}
        for key, (pack_id, index, folder) in in_packs.items():
            if (pack_id, 1) in found:
                result[key] = PackedId(found[(pack_id, 1)], index, folder).encode()
                continue
            if folder not in ended:  # read after find(): a pack's job gone by then has left all its markers
                ended[folder] = finished_tasks(folder)
            if index in ended[folder]:
                result[key] = PackedId(ENDED_PACK_JOB, index, folder).encode()
        return result


def _packed_status(pid: PackedId, ended: dict[int, int], pack: JobStatus | None) -> JobStatus | None:
    """A packed task's status from its exit marker, else from its pack's job (None: unknown)."""
    if pid.index in ended:
        code = ended[pid.index]
        return JobStatus(JobState.SUCCEEDED if code == 0 else JobState.FAILED, "EXITED", exit_code=code)
    if pack is None:
        return None
    if pack.state.finished:
        reason = f"its pack's job {pid.job_id} ended ({pack.native_state or pack.state.value}) before the task did"
        return JobStatus(JobState.FAILED, "PACK_ENDED", reason=reason + (f": {pack.reason}" if pack.reason else ""))
    return JobStatus(pack.state, pack.native_state, reason=f"in pack job {pid.job_id}")


def packs_base() -> Path:
    """Where packs' folders live (manifest, pack wrapper, exit markers, the pack job's own logs)."""
    return Path(map_folder(get_setting("task_file_dir"))) / PACKS_DIR


def write_pack(backend: str, specs: list[JobSpec]) -> JobSpec:
    """Write one pack's folder and return the spec of its job (the first task's job settings)."""
    first = specs[0]
    folder = packs_base() / f"{backend}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
    (folder / DONE_DIR).mkdir(parents=True)
    pack_id = PACK_TASK_ID_PREFIX + folder.name
    manifest = folder / MANIFEST
    entries = [
        {
            "task_id": spec.task_id,
            "attempt": spec.attempt,
            "spec": task_spec(spec.task),
            "stdout": str(spec.stdout),
            "stderr": str(spec.stderr),
        }
        for spec in specs
    ]
    cores = get_setting("cores_per_job", task=first.task)
    manifest.write_text(json.dumps({"cores": cores, "tasks": entries}))
    # how find() maps a job back to its pack, and to this workflow
    (folder / "task.json").write_text(json.dumps({"task_id": pack_id, "workflow": this_workflow()}))
    wrapper = folder / "executable_wrapper.sh"
    write_executable(wrapper, pack_wrapper(first.task, pack_id, manifest))
    families = {spec.family for spec in specs}
    logs = Path(chunk_log_dir([spec.task for spec in specs])) if grouping_size(first.task) > 1 else folder
    logs.mkdir(parents=True, exist_ok=True)
    return JobSpec(
        task_id=pack_id,
        family=families.pop() if len(families) == 1 else PACK_FAMILY,
        wrapper=wrapper,
        stdout=logs / "stdout",
        stderr=logs / "stderr",
        log_dir=logs,
        task_file_dir=folder,
        job_name=first.job_name,
        attempt=1,
        settings=first.settings,
        task=first.task,
    )


class PackFilling:
    """When pending tasks leave: unpacked ones at once; packs when full or when their kind stopped growing."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.grown: dict[tuple[str, Hashable], float] = {}
        self.largest: dict[str, int] = defaultdict(lambda: 1)

    def queued(self, backend: BatchBackend, spec: JobSpec) -> None:
        """A task joined the backend's pending list."""
        size = pack_size(backend, spec.task)
        if size > 1:
            self.grown[(backend.name, backend.group_key(spec))] = self.clock()
            self.largest[backend.name] = max(self.largest[backend.name], size)

    def full(self, name: str, pending: int) -> bool:
        """Whether a backend's pending tasks fill a whole submission (max_array_size jobs)."""
        return pending >= get_setting("max_array_size") * self.largest[name]

    def leaving(self, backend: BatchBackend, jobs: list[Any], everything: bool) -> tuple[list[Any], list[Any]]:
        """Split pending jobs into those submitted now and packs that are still filling."""
        name = backend.name
        if everything or self.largest[name] == 1:
            self.largest.pop(name, None)
            return jobs, []
        groups: dict[Hashable, list[Any]] = defaultdict(list)
        for job in jobs:
            groups[backend.group_key(job.spec)].append(job)
        leave: list[Any] = []
        stay: list[Any] = []
        largest = 1
        current = self.clock()
        for key, group in groups.items():
            size = pack_size(backend, group[0].spec.task)
            quiet = current - self.grown.get((name, key), 0.0) >= get_setting("pack_wait", task=group[0].task)
            if size == 1 or quiet:
                leave += group
                self.grown.pop((name, key), None)
                continue
            whole = len(group) - len(group) % size
            leave += group[:whole]
            stay += group[whole:]
            if whole < len(group):
                largest = max(largest, size)
        self.largest[name] = largest
        return leave, stay
