"""Background executor of one stand-in grid job attempt.

Started detached by ``gbasf2`` and ``gb2_job_reschedule``:
``python -m gb2standin.runner <project> <jobid>``. It moves the job
Waiting -> Running -> Done/Failed, runs the steering file with the stand-in
``basf2`` in a per-attempt sandbox, writes the sandbox logs and registers the
produced ``*.root`` files as grid files of the project's output dataset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import common


def split_all_extensions(name: str) -> tuple[str, str]:
    """``"B_ntuple.udst.root"`` -> ``("B_ntuple", ".udst.root")``."""
    stem, dot, rest = name.partition(".")
    return stem, (dot + rest) if dot else ""


def output_lfn(project: dict, job: dict, filename: str) -> str:
    stem, exts = split_all_extensions(filename)
    index = int(job["JobIndex"])
    if str(common.get_config("lfn_style")).lower() == "legacy":
        new_name = f"{stem}_{index}{exts}"
    else:  # gbasf2 v5 convention: <name>_<index>_job<JobID>_<reschedule number>.root
        new_name = f"{stem}_{index:05d}_job{job['JobID']}_{int(job['RescheduleCounter']):02d}{exts}"
    return f"{project['output_dataset']}/sub00/{new_name}"


def job_environment(project: dict, job: dict, sandbox: Path) -> dict[str, str]:
    """A clean grid-like environment: nothing of the submitter's shell leaks in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(sandbox),
        "TMPDIR": str(sandbox),
        "LANG": "C",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join([str(common.BASF2_PYTHON_DIR), str(sandbox)]),
        "BELLE2_RELEASE": project.get("release") or "",
        "DIRACJOBID": str(job["JobID"]),
        "DIRACSITE": job["Site"],
        "B2CORE_STANDIN_DIR": str(common.standin_dir()),
    }
    return env


def write_sandbox_logs(sandbox: Path, project: dict, job: dict, lines: list[str]) -> None:
    info = [
        f"JobID: {job['JobID']}",
        f"JobGroup: {project['name']}",
        f"Owner: {project['owner']}",
        f"Site: {job['Site']}",
        f"SoftwareRelease: {project.get('release')}",
        f"InputData: {job.get('InputLFN') or ''}",
        f"RescheduleCounter: {job['RescheduleCounter']}",
        f"Status: {job.get('Status')}",
        f"MinorStatus: {job.get('MinorStatus')}",
        f"ApplicationStatus: {job.get('ApplicationStatus')}",
    ]
    (sandbox / "job.info").write_text("\n".join(info) + "\n", encoding="utf-8")
    (sandbox / "std.out").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(project_name: str, jobid: str) -> int:
    project = common.load_project(project_name)
    if not project or jobid not in project["jobs"]:
        return 1
    job = project["jobs"][jobid]
    time.sleep(common.get_float("wait_seconds"))

    with common.locked():
        project = common.load_project(project_name)
        job = project["jobs"][jobid]
        if job["Status"] != "Waiting":  # killed or deleted while waiting
            return 0
        resched = int(job["RescheduleCounter"])
        sandbox = common.state_dir() / "sandboxes" / jobid / f"r{resched:02d}"
        now = common.fmt_time(common.utcnow())
        job.update(
            Status="Running",
            MinorStatus="Application",
            ApplicationStatus="Running",
            Pid=os.getpid(),
            StartExecTime=now,
            HeartBeatTime=now,
            LastUpdateTime=now,
            Sandbox=str(sandbox),
        )
        common.save_project(project)

    attempt = int(job["Attempt"])
    if sandbox.exists():
        shutil.rmtree(sandbox)
    sandbox.mkdir(parents=True)

    input_sandbox = common.projects_dir() / project_name / "input_sandbox"
    shipped = set()
    for src in sorted(input_sandbox.iterdir()) if input_sandbox.is_dir() else []:
        shutil.copy2(src, sandbox / src.name)
        shipped.add(src.name)
    input_files = []
    if job.get("InputLFN"):
        src = common.lfn_to_path(job["InputLFN"])
        local = sandbox / Path(job["InputLFN"]).name
        if src.is_file():
            shutil.copy2(src, local)
        else:
            local.write_bytes(b"root-standin-input\n")
        shipped.add(local.name)
        input_files.append(local.name)

    steering = project["steering_name"]
    cmd = [sys.executable, "-m", "basf2", steering]
    for name in input_files:
        cmd += ["-i", name]
    if project.get("basf2opt"):
        cmd += project["basf2opt"].split()
    log_lines = [
        f"{common.fmt_time(common.utcnow())} UTC Starting job {jobid} of project {project_name} at {job['Site']}",
        f"Attempt {attempt} (reschedule counter {resched})",
        "Executing: " + " ".join(["basf2", *cmd[3:]]),
    ]

    t_start = time.time()
    failure_mode = common.injected_failure(project_name, int(job["JobIndex"]), attempt)
    with open(sandbox / "Script1_basf2helper.py.log", "wb") as log_fobj:
        proc = subprocess.Popen(
            cmd,
            cwd=sandbox,
            env=job_environment(project, job, sandbox),
            stdin=subprocess.DEVNULL,
            stdout=log_fobj,
            stderr=subprocess.STDOUT,
        )
        try:
            returncode = proc.wait(timeout=common.get_float("job_timeout"))
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
            log_lines.append("Job exceeded the CPU time limit and was killed")
    remaining = common.get_float("run_seconds") - (time.time() - t_start)
    if remaining > 0:
        time.sleep(remaining)
    log_lines.append(f"basf2 exit code: {returncode}")

    produced = sorted(p.name for p in sandbox.glob("*.root") if p.name not in shipped)
    if failure_mode:
        log_lines.append(f"b2core stand-in: injected failure '{failure_mode}' for attempt {attempt}")

    if failure_mode == "stalled":
        final = {
            "Status": "Stalled",
            "MinorStatus": "Job stalled: pilot not running",
            "ApplicationStatus": "Unknown",
        }
    elif failure_mode == "appfail":
        final = {"Status": "Done", "MinorStatus": "Execution Complete", "ApplicationStatus": "Failed"}
    elif failure_mode or returncode != 0:
        final = {
            "Status": "Failed",
            "MinorStatus": "Application Finished With Errors",
            "ApplicationStatus": "Failed",
        }
    else:
        final = {"Status": "Done", "MinorStatus": "Execution Complete", "ApplicationStatus": "Done"}

    register = final["Status"] == "Done" and final["ApplicationStatus"] == "Done"
    register = register or common.get_bool("keep_failed_output")
    registered = []
    if register:
        for name in produced:
            lfn = output_lfn(project, job, name)
            dest = common.lfn_to_path(lfn)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sandbox / name, dest)
            registered.append(lfn)
            log_lines.append(f"Uploaded {name} as {lfn}")

    with common.locked():
        project = common.load_project(project_name)
        job = project["jobs"][jobid]
        if job["Status"] != "Running" or int(job["RescheduleCounter"]) != resched:
            # killed/deleted/rescheduled meanwhile: keep that state, still leave the logs
            log_lines.append(f"Job left the Running state meanwhile: {job['Status']}")
            write_sandbox_logs(sandbox, project, job, log_lines)
            return 0
        now = common.fmt_time(common.utcnow())
        job.update(final)
        job.update(
            Pid=None,
            EndExecTime=now,
            HeartBeatTime=now,
            LastUpdateTime=now,
            ExitCode=returncode,
            Sandbox=str(sandbox),
        )
        job.setdefault("Outputs", [])
        job["Outputs"] = sorted(set(job["Outputs"]) | set(registered))
        common.save_project(project)
        write_sandbox_logs(sandbox, project, job, log_lines)
    return 0


def main(argv: list[str]) -> int:
    return run(argv[0], argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
