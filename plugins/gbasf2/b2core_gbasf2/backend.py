"""The gbasf2 backend: one grid project per task, monitored, rescheduled and downloaded by the core's engine.

A job id is the project name. ``submit`` first asks gb2_job_status whether the project already
exists (then it only monitors it, so a restart never submits twice); ``query`` asks each project's
job status with one command per project (gbasf2 has no cross-project query), reschedules failed
jobs within ``gbasf2_max_retries`` (counted in a file that survives restarts) and, when every job
is Done, downloads logs and datasets before reporting success.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.batch.commands import CommandRunner
from b2core.batch.wrapper import log_paths
from b2core.errors import B2CoreError, BatchCommandError, PermanentBatchError, SettingsError
from b2core.paths import log_file_dir, map_folder, task_file_dir
from b2core.settings import check_given_setting, find_setting_source, get_setting
from b2core.task import flatten_targets

from b2core_gbasf2.download import DownloadError, download_logs, download_output
from b2core_gbasf2.grid import GridJob, GridSession, output_dataset, session_for
from b2core_gbasf2.project import (
    check_project_name_prefix,
    get_unique_project_name,
    input_options,
    prepare_steering,
    sandbox_files,
    submit_command,
)
from b2core_gbasf2.settings import Gbasf2Settings
from b2core_gbasf2.target import Gbasf2GridProjectTarget

logger = logging.getLogger("b2core.gbasf2")

RETRIES_FILE = "n_retries_by_grid_job.json"
STATUS_ERRORS_BEFORE_FAILURE = 3


@dataclass
class Project:
    """What the backend remembers about one task's project between polls."""

    name: str
    task: Any
    setup_path: str
    group: str
    log_dir: Path
    task_files: Path
    stdout: Path
    stderr: Path
    last_status: JobStatus = field(default_factory=lambda: JobStatus(JobState.QUEUED, "submitted"))
    last_summary: str = ""
    status_errors: int = 0

    @property
    def retries_file(self) -> Path:
        """Per-job reschedule counts, in the task's log folder so they survive restarts."""
        return self.log_dir / RETRIES_FILE


class Gbasf2Backend(BatchBackend):
    """Submits each task as a gbasf2 project on the Belle II grid."""

    name = "gbasf2"
    packs_tasks = False  # one grid project is already many jobs
    settings_model = Gbasf2Settings

    def __init__(self, commands: CommandRunner | None = None) -> None:
        super().__init__(commands)
        self.projects: dict[str, Project] = {}

    # --- preparing ----------------------------------------------------------------------------------

    def check_settings(self) -> None:
        """The global gbasf2 settings, once at start, each named by the file (or variable) it comes from; not
        gbasf2_setup_path, which a run without --batch (or --test) on a machine without gbasf2 never needs."""
        check_given_setting("gbasf2_proxy_group", _check_global_proxy_group)
        check_given_setting("gbasf2_project_name_prefix", _check_global_prefix, "gbasf2_project_name_hash_length")

    def job_settings(self, task: Any) -> dict[str, Any]:
        """Check the task's gbasf2 settings now (clear errors before anything is submitted); the project name."""
        owner = f"Task {task.task_id}"
        if get_setting("gbasf2_install_directory", default="", task=task):
            warn_install_directory(f"From {find_setting_source('gbasf2_install_directory', task)}")
        name = get_unique_project_name(task)
        setup_path = check_setup_path(get_setting("gbasf2_setup_path", task=task), owner)
        group = get_setting("gbasf2_proxy_group", task=task)
        check_proxy_group(group, get_setting("gbasf2_project_lpn_path", default="", task=task), owner)
        input_options(task)
        if not get_setting("gbasf2_custom_steering_file", default="", task=task) and not hasattr(task, "create_path"):
            raise SettingsError(
                f"Task {task.task_id} runs on gbasf2 but has no create_path() returning a basf2 path; derive it "
                "from b2core_basf2.Basf2PathTask or set gbasf2_custom_steering_file."
            )
        if group != get_setting("gbasf2_proxy_group") and any(
            isinstance(target, Gbasf2GridProjectTarget) for _, target in flatten_targets(task.output())
        ):
            raise SettingsError(
                f"Task {task.task_id} has a Gbasf2GridProjectTarget output but its own gbasf2_proxy_group {group!r} "
                "differs from the global one; grid targets use the global gbasf2_proxy_group, so set it only globally."
            )
        known = self.projects.get(name)
        if known is not None and known.task.task_id != task.task_id:
            raise SettingsError(
                f"Tasks {known.task.task_id} and {task.task_id} would share the gbasf2 project {name}; give them "
                "different gbasf2_project_name_prefix values."
            )
        stdout, stderr = log_paths(task)
        self.projects[name] = Project(
            name=name,
            task=task,
            setup_path=setup_path,
            group=group,
            log_dir=Path(log_file_dir(task)),
            task_files=Path(task_file_dir(task)),
            stdout=stdout,
            stderr=stderr,
        )
        return {"project_name": name}

    def group_key(self, spec: JobSpec) -> str:
        """Every project is its own submission, so one failing project does not fail the others."""
        return spec.settings["project_name"]

    def session(self, project: Project) -> GridSession:
        """The grid session (environment, proxy, user) of a project's setup script and group."""
        return session_for(project.setup_path, project.group, self.commands)

    def ensure_proxy(self, project: Project) -> str:
        """A valid proxy for the project's group (created with gb2_proxy_init if needed); the DIRAC user."""
        task = project.task
        try:
            return self.session(project).ensure_proxy(
                get_setting("gbasf2_proxy_lifetime", task=task), get_setting("gbasf2_min_proxy_lifetime", task=task)
            )
        except BatchCommandError:
            raise
        except B2CoreError as error:
            raise PermanentBatchError(["gb2_proxy_info"], 1, stderr=str(error)) from None

    # --- submitting ---------------------------------------------------------------------------------

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Submit one project per task with gbasf2, or re-attach to the project if it already exists."""
        ids = []
        for spec in specs:
            project = self.projects.get(spec.settings["project_name"]) or self._register(spec)
            self.ensure_proxy(project)
            session = self.session(project)
            existing = session.job_status(project.name)
            if existing:
                message = (
                    f"gbasf2 project {project.name} already exists with {len(existing)} job(s); monitoring it "
                    "instead of submitting it again"
                )
                print(message, flush=True)
                _append(project.stdout, message)
            else:
                self._submit_project(project, session)
            project.last_status = JobStatus(JobState.QUEUED, "submitted")
            ids.append(project.name)
        return ids

    def _register(self, spec: JobSpec) -> Project:
        self.job_settings(spec.task)
        return self.projects[spec.settings["project_name"]]

    def _submit_project(self, project: Project, session: GridSession) -> None:
        task = project.task
        try:
            steering, own_files = prepare_steering(task, project.task_files)
            output_ds = None
            if project.group != "belle":
                lpn_path = get_setting("gbasf2_project_lpn_path", default="", task=task)
                output_ds = output_dataset(project.name, session.user or "", project.group, lpn_path)
            argv = submit_command(task, project.name, steering, own_files + sandbox_files(task), output_ds)
        except Exception as error:
            raise PermanentBatchError(
                ["gbasf2", "-p", project.name],
                1,
                stderr=f"preparing the project failed: {type(error).__name__}: {error}",
            ) from error
        print(f"Submitting gbasf2 project {project.name} for task {task.task_id}", flush=True)
        _append(project.stdout, "$ " + " ".join(argv))
        if get_setting("gbasf2_force_submission", task=task):
            result = session.run(argv, cwd=project.task_files)
            _append(project.stdout, result.stdout + result.stderr)
            return
        code = subprocess.call(argv, cwd=project.task_files, env=session.env())
        if code != 0:
            raise PermanentBatchError(argv, code, stderr="gbasf2 did not submit the project (not confirmed?)")

    # --- monitoring ---------------------------------------------------------------------------------

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One gb2_job_status per project; reschedules, fails or downloads as the jobs' states demand."""
        projects = [self.projects[name] for name in job_ids if name in self.projects]
        checked: set[tuple[str, str]] = set()
        for project in projects:
            if (project.setup_path, project.group) not in checked:
                self.ensure_proxy(project)
                checked.add((project.setup_path, project.group))
        statuses = {}
        for project in projects:
            try:
                status = self._poll(project)
                project.status_errors = 0
            except BatchCommandError as error:
                project.status_errors += 1
                if project.status_errors < STATUS_ERRORS_BEFORE_FAILURE:
                    logger.warning("Status of gbasf2 project %s unavailable, trying again: %s", project.name, error)
                    status = project.last_status
                else:
                    status = JobStatus(JobState.FAILED, "STATUS_UNAVAILABLE", reason=str(error))
            except Exception as error:
                logger.exception("gbasf2 project %s could not be handled", project.name)
                status = JobStatus(JobState.FAILED, "ERROR", reason=f"{type(error).__name__}: {error}")
                _append(project.stderr, status.reason)
            if status is not None:
                project.last_status = status
                statuses[project.name] = status
        return statuses

    def _poll(self, project: Project) -> JobStatus | None:
        session = self.session(project)
        jobs = session.job_status(project.name)
        if not jobs:
            return None
        self._report_progress(project, jobs)
        failed = [job for job in jobs if job.failed]
        if failed:
            return self._handle_failures(project, session, jobs, failed)
        if all(job.succeeded for job in jobs):
            return self._succeed(project, session, jobs)
        counts = Counter(job.status for job in jobs)
        native = f"{counts.get('Done', 0)}/{len(jobs)} jobs done"
        if all(job.waiting for job in jobs):
            return JobStatus(JobState.QUEUED, native)
        return JobStatus(JobState.RUNNING, native)

    def _report_progress(self, project: Project, jobs: list[GridJob]) -> None:
        counts = Counter(job.status for job in jobs)
        summary = ", ".join(f"{state}: {counts[state]}" for state in sorted(counts))
        if summary == project.last_summary:
            return
        project.last_summary = summary
        line = f"gbasf2 project {project.name}: {len(jobs)} job(s) ({summary})"
        _append(project.stdout, line)
        if get_setting("gbasf2_print_status_updates", task=project.task):
            print(line, flush=True)

    def _handle_failures(
        self, project: Project, session: GridSession, jobs: list[GridJob], failed: list[GridJob]
    ) -> JobStatus:
        allowed = get_setting("gbasf2_max_retries", task=project.task)
        retries = load_retries(project.retries_file)
        exhausted = [job for job in failed if not job.reschedulable or retries.get(job.job_id, 0) >= allowed]
        if exhausted:
            return self._fail(project, session, exhausted, retries, allowed)
        ids = [job.job_id for job in failed]
        for job_id in ids:
            retries[job_id] = retries.get(job_id, 0) + 1
        save_retries(project.retries_file, retries)
        result = session.run(["gb2_job_reschedule", "--jobid", *ids, "--force", *session.group_options()])
        counts = ", ".join(f"{job_id} ({retries[job_id]}/{allowed})" for job_id in ids)
        line = f"gbasf2 project {project.name}: rescheduled failed job(s) {counts}"
        _append(project.stdout, line + "\n" + result.stdout)
        print(line, flush=True)
        return JobStatus(JobState.RUNNING, f"rescheduled {len(ids)} job(s)")

    def _fail(
        self, project: Project, session: GridSession, exhausted: list[GridJob], retries: dict[str, int], allowed: int
    ) -> JobStatus:
        lines = [f"gbasf2 project {project.name} failed: {len(exhausted)} job(s) failed for good"]
        for job in exhausted:
            why = (
                "cannot be rescheduled (Done, but its application failed)"
                if not job.reschedulable
                else f"rescheduled {retries.get(job.job_id, 0)} of gbasf2_max_retries = {allowed} times"
            )
            lines.append(
                f"  job {job.job_id}: {job.status} / {job.minor_status} / application {job.application_status} "
                f"at {job.site}; {why}"
            )
        logs = None
        if get_setting("gbasf2_download_logs", task=project.task):
            logs = download_logs(session, project.name, project.log_dir)
            lines.append(f"Job logs: {logs}" if logs else "The job logs could not be downloaded.")
        lines.append(
            "Look into the logs; reschedule the jobs with gb2_job_reschedule (or delete them with gb2_job_delete) "
            "and start again to resume monitoring, or exclude sites with gbasf2_additional_params = "
            "'--banned_site ...'."
        )
        text = "\n".join(lines)
        _append(project.stderr, text)
        print(text, file=sys.stderr, flush=True)
        ids = ", ".join(job.job_id for job in exhausted)
        reason = f"{len(exhausted)} grid job(s) failed for good ({ids})" + (f"; job logs in {logs}" if logs else "")
        return JobStatus(JobState.FAILED, "Failed", reason=reason)

    def _succeed(self, project: Project, session: GridSession, jobs: list[GridJob]) -> JobStatus:
        task = project.task
        notes = [f"all {len(jobs)} job(s) done"]
        if get_setting("gbasf2_download_logs", task=task):
            logs = download_logs(session, project.name, project.log_dir)
            notes.append(f"logs in {logs}" if logs else "logs could not be downloaded")
        if get_setting("gbasf2_download_dataset", task=task):
            lpn_path = get_setting("gbasf2_project_lpn_path", default="", task=task)
            dataset = output_dataset(project.name, session.user or "", project.group, lpn_path)
            params = get_setting("gbasf2_additional_download_params", task=task)
            for path in local_outputs(task):
                try:
                    count = download_output(session, dataset, path, params, project.stdout)
                except DownloadError as error:
                    text = f"gbasf2 project {project.name} succeeded, but downloading {path} failed: {error}"
                    _append(project.stderr, text)
                    return JobStatus(JobState.FAILED, "DOWNLOAD_FAILED", reason=text)
                notes.append(f"{count} file(s) in {path}")
        _append(project.stdout, f"gbasf2 project {project.name}: " + "; ".join(notes))
        return JobStatus(JobState.SUCCEEDED, "Done", exit_code=0)

    # --- stopping -----------------------------------------------------------------------------------

    def cancel(self, job_ids: Sequence[str]) -> None:
        """gb2_job_kill for each project (there is no multi-project kill); ended jobs are left alone."""
        for name in job_ids:
            project = self.projects.get(name)
            if project is None:
                continue
            session = self.session(project)
            session.run(["gb2_job_kill", "--force", "-p", name, *session.group_options()], check=False)


def local_outputs(task: Any) -> list[str]:
    """Paths of the task's outputs that are local folders to download into (not grid targets)."""
    paths = []
    for _, target in flatten_targets(task.output()):
        if isinstance(target, Gbasf2GridProjectTarget) or not getattr(target, "path", None):
            continue
        paths.append(target.path)
    return paths


def load_retries(path: Path) -> dict[str, int]:
    """Reschedule counts per grid job id (empty when the file does not exist yet)."""
    try:
        return {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError) as error:
        raise SettingsError(f"The retry count file {path} is damaged ({error}); fix or delete it") from None


def save_retries(path: Path, retries: dict[str, int]) -> None:
    """Write the counts atomically, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".tmp{os.getpid()}")
    temporary.write_text(json.dumps(retries, indent=1, sort_keys=True))
    os.replace(temporary, path)


def _append(log: Path, text: str) -> None:
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    except OSError:
        pass


def warn_install_directory(owner: str) -> None:
    """gbasf2_install_directory is b2luigi's old way to find gbasf2; the same message per source, so said once."""
    warnings.warn(
        f"{owner}: the setting gbasf2_install_directory is deprecated and ignored; set gbasf2_setup_path instead.",
        DeprecationWarning,
        stacklevel=3,
    )


def check_setup_path(setup_path: str, owner: str) -> str:
    """The absolute path of the gbasf2 setup script, which must exist; owner starts the error."""
    path = map_folder(setup_path)
    if not os.path.isfile(path):
        raise SettingsError(
            f"{owner}: the gbasf2 setup script gbasf2_setup_path = {path!r} does not exist. "
            "Install gbasf2 (or mount /cvmfs) or point gbasf2_setup_path at your gbasf2 bashrc."
        )
    return path


def check_proxy_group(group: str, lpn_path: str | None, owner: str) -> None:
    """Groups other than belle write their projects below gbasf2_project_lpn_path; owner starts the error."""
    if group != "belle" and not lpn_path:
        raise SettingsError(
            f"{owner}: gbasf2_proxy_group = {group!r} needs gbasf2_project_lpn_path "
            "(the LPN folder where the group's projects are written)."
        )


def _check_global_proxy_group(group: str, owner: str) -> None:
    """check_proxy_group for the global settings, the shape check_given_setting calls."""
    check_proxy_group(group, get_setting("gbasf2_project_lpn_path", default=""), owner)


def _check_global_prefix(prefix: str | None, owner: str) -> None:
    """check_project_name_prefix for the global settings, the shape check_given_setting calls."""
    check_project_name_prefix(prefix or "", get_setting("gbasf2_project_name_hash_length"), owner)
