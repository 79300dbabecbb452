"""The HTCondor backend: one submit description and one condor_submit per group of tasks, one
condor_q (plus one condor_history for jobs that left the queue) per poll, condor_rm in bulk.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from b2core.batch.arrays import find_lost_submissions, submission_dir
from b2core.batch.backend import BatchBackend, JobSpec, JobState, JobStatus
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.settings import check_given_setting, get_merged_dict, get_setting

from b2core_htcondor.settings import HTCondorSettings

logger = logging.getLogger("b2core.htcondor")

#: job ad attributes every status query asks for
ATTRIBUTES = "ClusterId,ProcId,JobStatus,ExitCode,ExitBySignal,ExitSignal,HoldReason,RemoveReason"
#: what find asks condor_q for: the job id, whether it will still run, and the executable (a task's wrapper)
FIND_ATTRIBUTES = "ClusterId,ProcId,JobStatus,Cmd"
#: JobStatus of jobs that have not ended: idle, running, held (query releases or removes them), transferring, suspended
UNFINISHED_STATUSES = {1, 2, 5, 6, 7}
#: submit commands b2core writes per job; a setting naming one of them would break the mapping
RESERVED_KEYS = {"executable", "output", "error", "queue"}
#: spellings under which htcondor_settings already names the batch, so job_name must not add one
BATCH_NAME_KEYS = {"jobbatchname", "batch_name", "+jobbatchname", "my.jobbatchname"}
#: submit keys: plain names, +Attr and MY.Attr custom attributes
_KEY = re.compile(r"^(\+|MY\.)?[A-Za-z_][A-Za-z0-9_.]*$", re.IGNORECASE)
#: paths that can go into a `queue ... from (...)` item list unchanged
_SAFE_ITEM = re.compile(r"^[A-Za-z0-9_./+@%=:~-]+$")
_TERSE = re.compile(r"^\s*(\d+)\.(\d+)\s*-\s*(\d+)\.(\d+)\s*$", re.MULTILINE)
#: condor_rm/condor_release complaints about jobs that are gone already (not an error for us)
_GONE = re.compile(
    r"not found|couldn't find/(remove|release) all jobs|not held to be released|already|no jobs? match", re.IGNORECASE
)
#: failures of the schedd connection, worth retrying; every other submit error is permanent
_TRANSIENT = re.compile(
    r"failed to connect|can't find address|cannot find address|can't connect|could not connect|timed out|"
    r"timeout|connection refused|connection reset|temporarily|try again|failed to commit|secman",
    re.IGNORECASE,
)

JOB_STATUS_NAMES = {
    1: "IDLE",
    2: "RUNNING",
    3: "REMOVED",
    4: "COMPLETED",
    5: "HELD",
    6: "TRANSFERRING_OUTPUT",
    7: "SUSPENDED",
}


class HTCondorBackend(BatchBackend):
    """Submits groups of tasks as one HTCondor cluster; held jobs are released or removed, never left."""

    name = "htcondor"
    settings_model = HTCondorSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._releases: dict[str, int] = {}

    # --- settings ----------------------------------------------------------------------------------

    def check_settings(self) -> None:
        """The global htcondor_settings, once at start, named by the file (or variable) they come from."""
        check_given_setting("htcondor_settings", check_submit_commands)

    def job_settings(self, task: Any) -> dict[str, Any]:
        """The task's submit commands: htcondor_settings, file transfer and JobBatchName (a new dict)."""
        options = check_submit_commands(get_merged_dict("htcondor_settings", task), f"Task {task.task_id}")
        transfer = get_setting("transfer_files", task=task)
        if transfer:
            working_dir = get_setting("working_dir", task=task)
            if working_dir != ".":
                raise SettingsError(
                    f"Task {task.task_id}: transfer_files needs working_dir = '.' (HTCondor copies the files "
                    f"flattened into the job's scratch folder), but working_dir is {working_dir!r}"
                )
            relative = [path for path in transfer if not os.path.isabs(path)]
            if relative:
                raise SettingsError(
                    f"Task {task.task_id}: transfer_files must be absolute paths, got {', '.join(relative)}"
                )
            inputs = list(transfer)
            env_script = get_setting("env_script", task=task)
            if env_script:
                inputs.append(os.path.abspath(env_script))
            options.setdefault("should_transfer_files", "YES")
            options.setdefault("when_to_transfer_output", "ON_EXIT")
            options.setdefault("transfer_input_files", ",".join(inputs))
        job_name = get_setting("job_name", task=task)
        if job_name and not any(str(key).lower() in BATCH_NAME_KEYS for key in options):
            options["JobBatchName"] = job_name
        return options

    # --- submit ------------------------------------------------------------------------------------

    def submit(self, specs: Sequence[JobSpec]) -> list[str]:
        """Write one submit description for the whole group and run condor_submit once."""
        if not specs:
            return []
        folder = submission_dir(self.name)
        path = folder / "job.submit"
        path.write_text(submit_description(specs[0].settings, specs))
        argv = ["condor_submit", "-terse", path.name]
        result = self.commands.run(argv, cwd=str(folder), check=False)
        if result.returncode != 0:
            error = PermanentBatchError if not _TRANSIENT.search(result.stderr + result.stdout) else BatchCommandError
            raise error(argv, result.returncode, result.stdout, f"{result.stderr.strip()} (submit file {path})")
        ids = parse_terse(result.stdout)
        if len(ids) != len(specs):
            raise PermanentBatchError(
                argv,
                result.returncode,
                result.stdout,
                f"expected {len(specs)} job ids from condor_submit -terse, read {len(ids)} from "
                f"{result.stdout.strip()!r} (submit file {path})",
            )
        return ids

    # --- query -------------------------------------------------------------------------------------

    def query(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """condor_q for every tracked cluster, then condor_history for jobs no longer in the queue."""
        wanted = list(dict.fromkeys(job_ids))
        if not wanted:
            return {}
        clusters = sorted({job_id.split(".")[0] for job_id in wanted}, key=int)
        argv = ["condor_q", "-json", "-attributes", ATTRIBUTES, *clusters]
        ads = ads_by_id(parse_json_ads(self.commands.run(argv).stdout, argv))
        missing = [job_id for job_id in wanted if job_id not in ads]
        if missing:
            argv = ["condor_history", "-json", "-attributes", ATTRIBUTES, "-limit", str(len(missing)), *missing]
            history = ads_by_id(parse_json_ads(self.commands.run(argv).stdout, argv))
            ads.update({job_id: ad for job_id, ad in history.items() if job_id not in ads})
        statuses = {job_id: status_from_ad(ads[job_id]) for job_id in wanted if job_id in ads}
        held = [job_id for job_id, status in statuses.items() if status.native_state == "HELD"]
        if held:
            statuses.update(self._handle_held(held, statuses))
        return statuses

    def _handle_held(self, held: list[str], statuses: dict[str, JobStatus]) -> dict[str, JobStatus]:
        """Release held jobs up to htcondor_release_held times, remove the rest: never leave them held."""
        allowed = get_setting("htcondor_release_held")
        release = [job_id for job_id in held if self._releases.get(job_id, 0) < allowed]
        remove = [job_id for job_id in held if job_id not in release]
        answer: dict[str, JobStatus] = {}
        if release:
            problem = self._bulk("condor_release", release)
            for job_id in release:
                hold_reason = statuses[job_id].reason
                if problem:
                    remove.append(job_id)
                    continue
                self._releases[job_id] = self._releases.get(job_id, 0) + 1
                logger.warning("Released held HTCondor job %s (%s)", job_id, hold_reason)
                answer[job_id] = JobStatus(
                    JobState.QUEUED,
                    "HELD",
                    reason=f"released after hold {self._releases[job_id]} of {allowed}: {hold_reason}",
                )
        if remove:
            problem = self._bulk("condor_rm", remove)
            for job_id in remove:
                hold_reason = statuses[job_id].reason
                outcome = f"condor_rm failed: {problem}" if problem else "removed from the queue"
                answer[job_id] = JobStatus(
                    JobState.FAILED, "HELD", reason=f"held by HTCondor ({outcome}): {hold_reason}"
                )
        return answer

    # --- find --------------------------------------------------------------------------------------

    def find(self, submissions: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str] | None:
        """Lost submissions are the user's unfinished jobs whose executable is their task's wrapper."""
        if not submissions:
            return {}
        argv = ["condor_q", "-json", "-attributes", FIND_ATTRIBUTES]
        ads = ads_by_id(parse_json_ads(self.commands.run(argv).stdout, argv))
        jobs = [
            (job_id, Path(ad["Cmd"]), None)
            for job_id, ad in sorted(ads.items(), key=lambda item: tuple(int(n) for n in item[0].split(".")))
            if _int(ad.get("JobStatus")) in UNFINISHED_STATUSES and isinstance(ad.get("Cmd"), str)
        ]
        return find_lost_submissions(submissions, jobs)  # the newest job wins if a task has several

    # --- cancel ------------------------------------------------------------------------------------

    def cancel(self, job_ids: Sequence[str]) -> None:
        """condor_rm all jobs in one call (chunked for very long lists); jobs already gone are fine."""
        ids = list(dict.fromkeys(job_ids))
        for start in range(0, len(ids), 2000):
            problem = self._bulk("condor_rm", ids[start : start + 2000])
            if problem:
                raise BatchCommandError(["condor_rm", *ids[start : start + 2000]], 1, stderr=problem)

    def _bulk(self, command: str, ids: list[str]) -> str:
        """Run condor_rm/condor_release on many ids; returns the error text, empty when all is well."""
        if not ids:
            return ""
        result = self.commands.run([command, *ids], check=False)
        if result.returncode == 0:
            return ""
        lines = [line for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
        real = [line for line in lines if not _GONE.search(line) and "marked for" not in line]
        if not real:
            return ""
        text = "; ".join(real)
        logger.warning("%s of %d job(s) failed: %s", command, len(ids), text)
        return text


# --- pure functions, unit-tested against recorded outputs ---------------------------------------------


def submit_description(settings: dict[str, Any], specs: Sequence[JobSpec]) -> str:
    """The submit description: shared commands, then one queue item per task (its wrapper and logs)."""
    lines = ["# Written by b2core: one HTCondor job per task, all in one cluster."]
    lines += [f"{key} = {_value(value)}" for key, value in settings.items()]
    own_log = not any(str(key).lower() == "log" for key in settings)
    items = [(spec.wrapper, spec.stdout, spec.stderr, spec.log_dir / "job.log") for spec in specs]
    if all(_SAFE_ITEM.match(str(path)) for item in items for path in item):
        lines += ["executable = $(b2core_wrapper)", "output = $(b2core_stdout)", "error = $(b2core_stderr)"]
        if own_log:
            lines.append("log = $(b2core_log)")
        lines.append("queue b2core_wrapper,b2core_stdout,b2core_stderr,b2core_log from (")
        lines += [",".join(str(path) for path in item) for item in items]
        lines.append(")")
    else:
        # paths with blanks or commas cannot be queue items; one `queue 1` per task still makes one file
        for wrapper, stdout, stderr, log in items:
            lines += [f"executable = {_escape(wrapper)}", f"output = {_escape(stdout)}", f"error = {_escape(stderr)}"]
            if own_log:
                lines.append(f"log = {_escape(log)}")
            lines.append("queue 1")
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    return str(value)


def _escape(path: Path) -> str:
    """A path as a submit-file value: $ would start a macro, $(DOLLAR) is HTCondor's literal dollar."""
    return str(path).replace("$", "$(DOLLAR)")


def check_submit_commands(options: dict[str, Any], owner: str) -> dict[str, Any]:
    """htcondor_settings must be single-line submit commands b2core does not write itself; owner starts each error."""
    for key, value in options.items():
        if not _KEY.match(str(key)):
            raise SettingsError(f"{owner}: htcondor_settings key {key!r} is not a submit command")
        if str(key).lower() in RESERVED_KEYS:
            raise SettingsError(
                f"{owner}: htcondor_settings may not set {key!r}; b2core writes it per job "
                "(the job wrapper and the task's own stdout/stderr files)"
            )
        if not isinstance(value, str | int | float | bool):
            raise SettingsError(
                f"{owner}: htcondor_settings[{key!r}] must be a string, number or bool, got {type(value).__name__}"
            )
        if "\n" in str(value) or "\r" in str(value):
            raise SettingsError(f"{owner}: htcondor_settings[{key!r}] must be a single line")
    return options


def parse_terse(output: str) -> list[str]:
    """Job ids `C.P` from `condor_submit -terse` lines like `1234.0 - 1234.9`, in submission order."""
    ids = []
    for match in _TERSE.finditer(output):
        first_cluster, first, last_cluster, last = (int(g) for g in match.groups())
        if first_cluster != last_cluster or last < first:
            continue
        ids += [f"{first_cluster}.{proc}" for proc in range(first, last + 1)]
    return ids


def parse_json_ads(text: str, argv: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The ads of `condor_q -json` / `condor_history -json`; empty output means no jobs."""
    text = text.strip()
    if not text:
        return []
    try:
        ads = json.loads(text)
    except ValueError as error:
        raise BatchCommandError(list(argv), 0, stderr=f"unreadable JSON ({error}): {text[:200]!r}") from None
    if isinstance(ads, dict):
        ads = [ads]
    return [ad for ad in ads if isinstance(ad, dict)]


def ads_by_id(ads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ads keyed by `ClusterId.ProcId`; ads without both are ignored."""
    result = {}
    for ad in ads:
        if "ClusterId" in ad and "ProcId" in ad:
            result[f"{int(ad['ClusterId'])}.{int(ad['ProcId'])}"] = ad
    return result


def status_from_ad(ad: dict[str, Any]) -> JobStatus:
    """Map a job ad's JobStatus (1-7) and exit attributes onto a JobStatus."""
    code = ad.get("JobStatus")
    try:
        code = int(code)
    except (TypeError, ValueError):
        return JobStatus(JobState.RUNNING, f"JobStatus={code}")
    native = JOB_STATUS_NAMES.get(code, f"JobStatus={code}")
    if code == 1:
        return JobStatus(JobState.QUEUED, native)
    if code in (2, 6, 7):
        return JobStatus(JobState.RUNNING, native)
    if code == 3:
        reason = ad.get("RemoveReason") or "removed from the queue"
        return JobStatus(JobState.FAILED, native, reason=str(reason))
    if code == 4:
        if _true(ad.get("ExitBySignal")):
            signal = ad.get("ExitSignal")
            return JobStatus(JobState.FAILED, native, reason=f"killed by signal {signal}")
        exit_code = ad.get("ExitCode")
        if exit_code is None:
            return JobStatus(JobState.FAILED, native, reason="HTCondor reported no ExitCode")
        exit_code = int(exit_code)
        state = JobState.SUCCEEDED if exit_code == 0 else JobState.FAILED
        return JobStatus(state, native, exit_code=exit_code)
    if code == 5:
        return JobStatus(JobState.FAILED, native, reason=str(ad.get("HoldReason") or "no HoldReason given"))
    return JobStatus(JobState.RUNNING, native)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
