"""Command-line behaviour of the gbasf2 / gb2 stand-in executables.

Which public document each output follows is listed in ``../FORMATS.md``;
lines marked "guessed" there have no public example.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import getpass
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import common
from .formats import centered_title, table

SEP85 = "=" * 85


class Parser(argparse.ArgumentParser):
    """argparse with the gb2 ``--usage`` flag."""

    def __init__(self, prog: str, usage_text: str = "", **kwargs: Any) -> None:
        super().__init__(prog=prog, **kwargs)
        self.usage_text = usage_text
        self.add_argument("--usage", action="store_true", help="show usage and examples")

    def parse(self, argv: list[str]) -> argparse.Namespace | None:
        args = self.parse_args(argv)
        if args.usage:
            print(self.usage_text or self.format_usage())
            return None
        return args


def ask(question: str) -> bool:
    print(question)
    print("Please enter Y or N: ", end="", flush=True)
    answer = sys.stdin.readline()
    print()
    return answer.strip().lower() in {"y", "yes"}


def split_ids(values: list[str] | None) -> list[str]:
    ids: list[str] = []
    for value in values or []:
        ids.extend(v for v in re.split(r"[,\s]+", value) if v)
    return ids


def user_lpn_root(user: str) -> str:
    return f"/belle/user/{user}"


def resolve_lpn(arg: str, user: str) -> str:
    """Project names are resolved to the user's output dataset, like the real gb2_ds tools."""
    if arg.startswith("/"):
        return arg.rstrip("/") or "/"
    return f"{user_lpn_root(user)}/{arg}"


# --------------------------------------------------------------------------- input datasets


def _nfiles_for(lfn: str) -> int:
    match = re.search(r"nfiles[=_-]?(\d+)", lfn)
    if match:
        return int(match.group(1))
    return int(common.get_config("default_nfiles"))


def resolve_input_files(lfn: str) -> list[str]:
    """File LFNs of an input dataset, datablock or file; missing datasets are synthesised.

    Synthesised files are stored in the stand-in storage element so that later
    ``gb2_ds_list``/``gb2_ds_get`` calls see the same content.
    """
    lfn = lfn.rstrip("/")
    path = common.lfn_to_path(lfn)
    if path.is_file():
        return [lfn]
    if path.is_dir():
        blocks = sorted(p for p in path.iterdir() if p.is_dir() and re.fullmatch(r"sub\d\d", p.name))
        files = []
        for block in blocks or [path]:
            files.extend(sorted(common.path_to_lfn(p) for p in block.iterdir() if p.is_file()))
        if files:
            return files
    if lfn.endswith(".root"):
        files = [lfn]
    else:
        block = lfn if re.search(r"/sub\d\d$", lfn) else f"{lfn}/sub00"
        level = "udst" if "udst" in lfn else "mdst"
        files = [
            f"{block}/{level}_{i + 1:06d}_prod00000001_task10020000{i + 1:03d}.root" for i in range(_nfiles_for(lfn))
        ]
    for file_lfn in files:
        dest = common.lfn_to_path(file_lfn)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.write_bytes(b"root-standin-input " + file_lfn.encode() + b"\n")
    return files


# --------------------------------------------------------------------------- job selection


def visible_jobs(
    user: str | None,
    projects: list[str] | None = None,
    jobids: list[str] | None = None,
    statuses: list[str] | None = None,
) -> list[tuple[dict, dict]]:
    result = []
    wanted_status = {s.lower() for s in statuses or []}
    for project in common.all_projects():
        if user not in (None, "all") and project["owner"] != user:
            continue
        if projects and project["name"] not in projects:
            continue
        for jobid in sorted(project["jobs"], key=int):
            job = project["jobs"][jobid]
            if jobids and jobid not in jobids:
                continue
            if wanted_status and "all" not in wanted_status:
                if job["Status"].lower() not in wanted_status:
                    continue
            elif job["Status"] == "Deleted" and not wanted_status:
                continue
            result.append((project, job))
    return result


def spawn_runner(project_name: str, jobid: str) -> int:
    """Start the detached background executor of one job attempt."""
    log_dir = common.state_dir() / "sandboxes" / jobid
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["B2CORE_STANDIN_DIR"] = str(common.standin_dir())
    env["PYTHONPATH"] = str(common.STANDIN_ROOT)
    with open(log_dir / "runner.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gb2standin.runner", project_name, jobid],
            cwd=str(common.STANDIN_ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def terminate_runner(job: dict) -> None:
    for key in ("Pid", "RunnerPid"):
        pid = job.get(key)
        if pid and common.pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)


# --------------------------------------------------------------------------- gbasf2


def cmd_gbasf2(argv: list[str]) -> int:
    parser = Parser(
        "gbasf2",
        usage_text="Examples:\n% gbasf2 -p myProject -s light-2311-nebelung -i <LPN> steering.py",
        description="Submit a basf2 steering file as a project to the grid (b2core stand-in).",
    )
    parser.add_argument("steering_file", nargs="?")
    parser.add_argument("-p", "--project_name", dest="project")
    parser.add_argument("-s", "--release", dest="release")
    parser.add_argument("-i", "--input_ds", dest="input_ds", action="append", default=[])
    parser.add_argument("--input_dslist")
    parser.add_argument("--input_datafiles", nargs="+", default=[])
    parser.add_argument("-f", "--input_sandboxfiles", dest="files", nargs="+", action="extend", default=[])
    parser.add_argument("--lfn_sandboxfiles", action="store_true")
    parser.add_argument("--noscout", action="store_true")
    parser.add_argument("--force", action="store_true", help="skip the confirmation")
    parser.add_argument("--cputime", type=int)
    parser.add_argument("--evtpersec", type=float)
    parser.add_argument("--priority", type=int, choices=range(0, 11), metavar="{0..10}")
    parser.add_argument("--jobtype")
    parser.add_argument("--basf2opt")
    parser.add_argument("--input_grouping", choices=["site", "size"])
    parser.add_argument("--output_ds")
    parser.add_argument("--repetition", type=int)
    parser.add_argument("--banned_site", action="append", default=[])
    parser.add_argument("--site")
    parser.add_argument("-g", "--group")
    parser.add_argument("--dryrun", action="store_true")
    args = parser.parse(argv)
    if args is None:
        return 0

    proxy = common.require_proxy("gbasf2")
    if proxy is None:
        return 1
    user = proxy["user"]
    name = args.project
    if not name:
        print("ERROR: the project name (-p) is required")
        return 1
    if len(name) > common.MAX_PROJECT_NAME:
        print(f"ERROR: The maximum length for a project name is {common.MAX_PROJECT_NAME} characters: {name}")
        return 1
    if not common.PROJECT_NAME_RE.match(name):
        print(f"ERROR: Project name {name} contains characters other than [a-zA-Z0-9+-_]")
        return 1
    if not args.release:
        print("ERROR: the basf2 release (-s) is required")
        return 1
    if not args.steering_file or not os.path.isfile(args.steering_file):
        print(f"ERROR: steering file not found: {args.steering_file}")
        return 1
    for fname in args.files:
        if not args.lfn_sandboxfiles and not os.path.exists(fname):
            print(f"ERROR: input sandbox file not found: {fname}")
            return 1

    input_lfns: list[str] = []
    for value in args.input_ds:
        input_lfns.extend(v for v in value.split(",") if v)
    if args.input_dslist:
        if not os.path.isfile(args.input_dslist):
            print(f"ERROR: input dataset list not found: {args.input_dslist}")
            return 1
        with open(args.input_dslist, encoding="utf-8") as fobj:
            input_lfns.extend(line.strip() for line in fobj if line.strip() and not line.strip().startswith("#"))
    input_lfns.extend(args.input_datafiles)

    with common.locked():
        existing = common.load_project(name)
        if existing:
            reuse = common.get_bool("allow_project_reuse")
            alive = [j for j in existing["jobs"].values() if j["Status"] != "Deleted"]
            if alive or not reuse:
                print(f"ERROR: Project {name} already exists. Project names cannot be reused.")
                return 1

    files: list[str] = []
    for lfn in input_lfns:
        files.extend(resolve_input_files(lfn))
    n_jobs = len(files) if files else max(1, args.repetition or 1)
    group = args.group or proxy.get("group", "belle")
    output_ds = args.output_ds or f"{user_lpn_root(user)}/{name}"
    events_per_file = 1000
    evtpersec = args.evtpersec or 100.0
    est_minutes = args.cputime or max(1, int(events_per_file / evtpersec / 60 * 20))

    summary = [
        "************************************************",
        "*************** Project summary ****************",
        f"** Project name: {name}",
        f"** Dataset path: {output_ds}",
        f"** Steering file: {os.path.abspath(args.steering_file)}",
        f"** Job owner: {user} @ {group} ({common.fmt_duration(proxy['seconds_left'])})",
        f"** Preferred site / SE: {args.site or 'None'} / None",
    ]
    if files:
        summary.append(f"** Input files for first job: LFN:{files[0]}")
    summary += [
        f"** Number of input files: {len(files)}",
        f"** Number of jobs: {n_jobs}",
        f"** Processed data (MB): {len(files)}",
        f"** Processed events: {len(files) * events_per_file} events",
        f"** Estimated CPU time per job: {est_minutes} min",
        "************************************************",
    ]
    if args.cputime is None and args.evtpersec is None:
        print("Please consider providing --cputime or --evtpersec")
    print("\n".join(summary))
    if args.dryrun:
        print("Dry run: the project was not submitted.")
        return 0
    if not args.force and not ask("Are you sure to submit the project?"):
        print("Project submission is canceled.")
        return 1

    sandbox_dir = common.projects_dir() / name / "input_sandbox"
    if sandbox_dir.exists():
        shutil.rmtree(sandbox_dir)
    sandbox_dir.mkdir(parents=True)
    steering_name = os.path.basename(args.steering_file)
    shutil.copy2(args.steering_file, sandbox_dir / steering_name)
    for fname in args.files:
        if os.path.isdir(fname):
            shutil.copytree(fname, sandbox_dir / os.path.basename(fname.rstrip("/")))
        elif os.path.exists(fname):
            shutil.copy2(fname, sandbox_dir / os.path.basename(fname))

    now = common.fmt_time(common.utcnow())
    with common.locked():
        ids = common.next_job_ids(n_jobs)
        jobs = {}
        for index, jobid in enumerate(ids):
            jobs[str(jobid)] = {
                "JobID": jobid,
                "JobIndex": index,
                "JobGroup": name,
                "Owner": user,
                "OwnerGroup": group,
                "InputLFN": files[index] if files else None,
                "Status": "Waiting",
                "MinorStatus": "Pilot Agent Submission",
                "ApplicationStatus": "Unknown",
                "Site": common.SITES[jobid % len(common.SITES)] if not args.site else args.site,
                "SubmissionTime": now,
                "LastUpdateTime": now,
                "HeartBeatTime": None,
                "Attempt": 1,
                "RescheduleCounter": 0,
                "Outputs": [],
                "Pid": None,
            }
        project = {
            "name": name,
            "owner": user,
            "group": group,
            "release": args.release,
            "steering_name": steering_name,
            "steering_file": os.path.abspath(args.steering_file),
            "input_lfns": input_lfns,
            "output_dataset": output_ds,
            "submission_time": now,
            "options": {
                "noscout": args.noscout,
                "cputime": args.cputime,
                "evtpersec": args.evtpersec,
                "priority": args.priority,
                "jobtype": args.jobtype,
                "input_grouping": args.input_grouping,
                "banned_site": args.banned_site,
                "lfn_sandboxfiles": args.lfn_sandboxfiles,
                "sandbox_files": args.files,
            },
            "basf2opt": args.basf2opt,
            "jobs": jobs,
        }
        common.save_project(project)
    for jobid in jobs:
        pid = spawn_runner(name, jobid)
        common.update_job(name, jobid, RunnerPid=pid)
    print(f"Submitting {n_jobs} jobs of project {name} ...")
    print(f"Successfully submitted {n_jobs} jobs: JobIDs {ids[0]}-{ids[-1]}")
    return 0


# --------------------------------------------------------------------------- monitoring


def _job_args(parser: Parser, project_nargs: str = "+") -> None:
    parser.add_argument("-p", "--project", nargs=project_nargs, default=[])
    parser.add_argument("-j", "--jobid", nargs="+", action="extend", default=[])
    parser.add_argument("-u", "--user")
    parser.add_argument("-g", "--group")


def cmd_job_status(argv: list[str]) -> int:
    parser = Parser("gb2_job_status", description="Show the status of jobs.")
    _job_args(parser)
    parser.add_argument("--status", action="append", default=[])
    parser.add_argument("--date")
    parser.add_argument("--site")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy("gb2_job_status")
    if proxy is None:
        return 1
    user = args.user or proxy["user"]
    statuses = split_ids(args.status)
    selected = visible_jobs(user, args.project, split_ids(args.jobid), statuses)
    if args.site:
        selected = [(p, j) for p, j in selected if j["Site"] == args.site]
    print(f"{len(selected)} jobs are selected.")
    if not selected:
        return 0
    print()
    rows = [[str(j["JobID"]), j["Status"], j["MinorStatus"], j["ApplicationStatus"], j["Site"]] for _, j in selected]
    print("\n".join(table(["Job id", "Status", "MinorStatus", "ApplicationStatus", "Site"], rows)))
    counts = {k: 0 for k in ["Completed", "Deleted", "Done", "Failed", "Killed", "Running", "Stalled", "Waiting"]}
    for _, job in selected:
        key = {"Completing": "Completed", "Received": "Waiting", "Matched": "Waiting"}.get(job["Status"], job["Status"])
        counts[key] = counts.get(key, 0) + 1
    print()
    print("--- Summary of Selected Jobs ---")
    print("  ".join(f"{k}:{v}" for k, v in counts.items()))
    return 0


def project_status(project: dict) -> tuple[str, dict[str, int], str]:
    jobs = [j for j in project["jobs"].values() if j["Status"] != "Deleted"]
    done = sum(1 for j in jobs if j["Status"] == "Done")
    fail = sum(1 for j in jobs if j["Status"] in common.FATAL_STATES)
    run = sum(1 for j in jobs if j["Status"] in {"Running", "Completing"})
    wait = sum(1 for j in jobs if j["Status"] in {"Waiting", "Received", "Checking", "Matched"})
    if run or wait:
        status = "Running"
    elif fail:
        status = "Failed"
    elif jobs:
        status = "Done"
    else:
        status = "Deleted"
    start = common.parse_time(project["submission_time"])
    if run or wait:
        end = common.utcnow()
    else:
        ends = [common.parse_time(j["LastUpdateTime"]) for j in jobs] or [start]
        end = max(ends)
    duration = common.fmt_duration((end - start).total_seconds())
    return status, {"Done": done, "Fail": fail, "Run": run, "Wait": wait}, duration


def cmd_project_summary(argv: list[str]) -> int:
    parser = Parser("gb2_project_summary", description="Show a summary of projects.")
    parser.add_argument("-p", "--project", nargs="+", default=[])
    parser.add_argument("-u", "--user")
    parser.add_argument("-g", "--group")
    parser.add_argument("--date")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy("gb2_project_summary")
    if proxy is None:
        return 1
    user = args.user or proxy["user"]
    rows = []
    for project in common.all_projects():
        if user != "all" and project["owner"] != user:
            continue
        if args.project and project["name"] not in args.project:
            continue
        status, counts, duration = project_status(project)
        rows.append(
            [
                project["name"],
                project["owner"],
                status,
                str(counts["Done"]),
                str(counts["Fail"]),
                str(counts["Run"]),
                str(counts["Wait"]),
                project["submission_time"],
                duration,
            ]
        )
    headers = ["Project", "Owner", "Status", "Done", "Fail", "Run", "Wait", "Submission Time(UTC)", "Duration"]
    print("\n".join(table(headers, rows)))
    return 0


# --------------------------------------------------------------------------- job control

RESCHEDULE_USAGE = """Resubmit failed jobs or projects.
Only jobs which have fatal status (Failed, Killed, Stalled) are affected.
Exact same sandbox and parameters are reused. Thus you may need to submit different job if they are wrong.

By default, select only your jobs in current group.
Please switch group and user name by options.
All user's jobs are specified by '-u all'.

Examples:

% gb2_job_reschedule -j 723428,723429
% gb2_job_reschedule -p project1 -u user"""


def _select_for_control(args: argparse.Namespace, proxy: dict) -> list[tuple[dict, dict]] | None:
    ids = split_ids(args.jobid)
    if not ids and not args.project:
        print("ERROR: please specify jobs with -j or a project with -p")
        return None
    user = args.user or proxy["user"]
    return visible_jobs(user, args.project, ids)


def cmd_job_reschedule(argv: list[str]) -> int:
    parser = Parser("gb2_job_reschedule", usage_text=RESCHEDULE_USAGE)
    _job_args(parser)
    parser.add_argument("--force", action="store_true")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy("gb2_job_reschedule")
    if proxy is None:
        return 1
    selected = _select_for_control(args, proxy)
    if selected is None:
        return 1
    fatal = [(p, j) for p, j in selected if j["Status"] in common.FATAL_STATES]
    print(f"{len(fatal)} jobs are selected.")
    if not fatal:
        return 0
    if not args.force and not ask(f"Do you want to reschedule {len(fatal)} jobs?"):
        return 1
    rescheduled = []
    with common.locked():
        by_project: dict[str, dict] = {}
        for project, job in fatal:
            current = by_project.setdefault(project["name"], common.load_project(project["name"]))
            cjob = current["jobs"][str(job["JobID"])]
            if cjob["Status"] not in common.FATAL_STATES:
                continue
            cjob.update(
                Status="Waiting",
                MinorStatus="Job Rescheduled",
                ApplicationStatus="Unknown",
                RescheduleCounter=int(cjob["RescheduleCounter"]) + 1,
                Attempt=int(cjob["Attempt"]) + 1,
                LastUpdateTime=common.fmt_time(common.utcnow()),
                Pid=None,
            )
            rescheduled.append((current["name"], str(cjob["JobID"])))
        for project in by_project.values():
            common.save_project(project)
    for project_name, jobid in rescheduled:
        pid = spawn_runner(project_name, jobid)
        common.update_job(project_name, jobid, RunnerPid=pid)
    ids = [int(j) for _, j in rescheduled]
    print(f"Rescheduled jobs: {ids}")
    return 0


def _kill_or_delete(tool: str, argv: list[str], new_status: str, minor: str, only_active: bool) -> int:
    parser = Parser(tool)
    _job_args(parser)
    parser.add_argument("--force", action="store_true")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy(tool)
    if proxy is None:
        return 1
    selected = _select_for_control(args, proxy)
    if selected is None:
        return 1
    if only_active:
        selected = [(p, j) for p, j in selected if j["Status"] in common.ACTIVE_STATES]
    print(f"{len(selected)} jobs are selected.")
    if not selected:
        return 0
    verb = "kill" if new_status == "Killed" else "delete"
    if not args.force and not ask(f"Do you want to {verb} {len(selected)} jobs?"):
        return 1
    done = []
    with common.locked():
        by_project: dict[str, dict] = {}
        for project, job in selected:
            current = by_project.setdefault(project["name"], common.load_project(project["name"]))
            cjob = current["jobs"][str(job["JobID"])]
            if cjob["Status"] in common.ACTIVE_STATES:
                terminate_runner(cjob)
            cjob.update(
                Status=new_status,
                MinorStatus=minor,
                Pid=None,
                LastUpdateTime=common.fmt_time(common.utcnow()),
            )
            done.append(int(cjob["JobID"]))
        for project in by_project.values():
            common.save_project(project)
    print(f"{'Killed' if verb == 'kill' else 'Deleted'} jobs: {done}")
    return 0


def cmd_job_kill(argv: list[str]) -> int:
    return _kill_or_delete("gb2_job_kill", argv, "Killed", "Marked for termination", only_active=True)


def cmd_job_delete(argv: list[str]) -> int:
    return _kill_or_delete("gb2_job_delete", argv, "Deleted", "Checking accounting", only_active=False)


def cmd_job_output(argv: list[str]) -> int:
    parser = Parser("gb2_job_output", description="Download the output sandbox (logs) of jobs.")
    _job_args(parser)
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy("gb2_job_output")
    if proxy is None:
        return 1
    selected = _select_for_control(args, proxy)
    if selected is None:
        return 1
    by_project = bool(args.project)
    print("download output sandbox below ./log/" + ("PROJECT/JOBID" if by_project else "JOBID"))
    print(f"{len(selected)} jobs are selected.")
    if not selected:
        return 0
    print("Please wait...")
    ids = [str(j["JobID"]) for _, j in selected]
    print(centered_title(f"Result for jobs: {ids}", len(SEP85)))
    print(SEP85)
    for project, job in selected:
        jobid = str(job["JobID"])
        dest = Path("log") / project["name"] / jobid if by_project else Path("log") / jobid
        sandbox = Path(job["Sandbox"]) if job.get("Sandbox") else None
        if job["Status"] in {"Waiting", "Received", "Checking", "Matched"} or not sandbox or not sandbox.is_dir():
            print(f'Failed: "No output sandbox for job {jobid} (status {job["Status"]})"')
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("job.info", "std.out", "Script1_basf2helper.py.log"):
            if (sandbox / name).exists():
                shutil.copy2(sandbox / name, dest / name)
        print(f'Downloaded: "Job output sandbox retrieved in {dest.resolve()}"')
    return 0


# --------------------------------------------------------------------------- data management


def _match_lfns(pattern: str) -> list[str]:
    root = common.grid_root()
    if any(ch in pattern for ch in "*?["):
        paths = [p for p in root.glob(pattern.lstrip("/")) if p.is_file()]
        return sorted(common.path_to_lfn(p) for p in paths)
    path = common.lfn_to_path(pattern)
    if path.is_file():
        return [pattern]
    if path.is_dir():
        return sorted(common.path_to_lfn(p) for p in path.rglob("*") if p.is_file())
    return []


def cmd_ds_list(argv: list[str]) -> int:
    parser = Parser("gb2_ds_list", description="List datasets, datablocks and files.")
    parser.add_argument("lpn", nargs="*")
    parser.add_argument("-l", "--long", action="store_true")
    parser.add_argument("-u", "--user")
    parser.add_argument("-g", "--group")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy("gb2_ds_list")
    if proxy is None:
        return 1
    user = args.user or proxy["user"]
    lpns = args.lpn or [user_lpn_root(user)]
    found_any = False
    for arg in lpns:
        lpn = resolve_lpn(arg, user)
        if any(ch in lpn for ch in "*?["):
            entries = _match_lfns(lpn)
        else:
            path = common.lfn_to_path(lpn)
            if path.is_dir():
                entries = sorted(common.path_to_lfn(p) for p in path.iterdir())
            elif path.is_file():
                entries = [lpn]
            else:
                entries = []
        for entry in entries:
            found_any = True
            if args.long:
                path = common.lfn_to_path(entry)
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(path.stat().st_mtime))
                size = path.stat().st_size if path.is_file() else 0
                print(f"{size:>12}  {stamp}  {entry}")
            else:
                print(entry)
    if not found_any:
        print("No datasets found.")
    return 0


def _download_should_fail(lfn: str) -> bool:
    spec = str(common.get_config("download_fail") or "")
    if not spec.strip():
        return False
    attempts_path = common.state_dir() / "download_attempts.json"
    with common.locked():
        attempts = common.read_json(attempts_path, {}) or {}
        count = attempts.get(lfn, 0) + 1
        attempts[lfn] = count
        common.write_json(attempts_path, attempts)
    for entry in re.split(r"[,\n;]", spec):
        if not entry.strip():
            continue
        pattern, _, times = entry.strip().rpartition(":")
        if not pattern:
            pattern, times = times, "1"
        matches = fnmatch.fnmatch(lfn, pattern) or fnmatch.fnmatch(os.path.basename(lfn), pattern)
        if matches and (int(times) < 0 or count <= int(times)):
            return True
    return False


def local_path_for(lfn: str, cwd: Path) -> Path:
    """``<dataset>/subXX/<file>`` -> ``./<dataset name>/subXX/<file>``, as the real gb2_ds_get."""
    parts = Path(lfn).parts
    if len(parts) >= 3 and re.fullmatch(r"sub\d\d", parts[-2]):
        return cwd / parts[-3] / parts[-2] / parts[-1]
    return cwd / parts[-2] / parts[-1]


def cmd_ds_get(argv: list[str]) -> int:
    parser = Parser("gb2_ds_get", description="Download files from the grid.")
    parser.add_argument("lpn", nargs="*")
    parser.add_argument("-f", "--force", action="store_true", help="skip the confirmation")
    parser.add_argument("--new", action="store_true", help="use the new (multi-stream) downloader")
    parser.add_argument("--failed_lfns")
    parser.add_argument("--input_dslist")
    parser.add_argument("--se")
    parser.add_argument("-u", "--user")
    parser.add_argument("-g", "--group")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.require_proxy("gb2_ds_get")
    if proxy is None:
        return 1
    user = args.user or proxy["user"]
    candidates: list[str] = []
    for arg in args.lpn:
        candidates.extend(_match_lfns(resolve_lpn(arg, user)))
    if args.input_dslist:
        with open(args.input_dslist, encoding="utf-8") as fobj:
            listed = [line.strip() for line in fobj if line.strip()]
        if args.lpn:
            candidates = [lfn for lfn in candidates if lfn in set(listed)]
        else:
            candidates = [lfn for lfn in listed if common.lfn_to_path(lfn).is_file()]
    candidates = sorted(dict.fromkeys(candidates))
    if not candidates:
        print("No file found")
        return 0
    if not args.force and not ask(f"Are you sure to download {len(candidates)} files?"):
        print("Download is canceled.")
        return 1
    cwd = Path.cwd()
    print(f"Download {len(candidates)} files from SE")
    succeeded: dict[Path, list[str]] = {}
    failed: list[str] = []
    for lfn in candidates:
        src = common.lfn_to_path(lfn)
        dest = local_path_for(lfn, cwd)
        se_url = f"davs://standin-se.b2core.invalid:443/pnfs/standin/TMP{lfn}"
        if dest.exists() and dest.stat().st_size == src.stat().st_size:
            print(f"Skip {lfn}: already downloaded to {dest} (size verified)")
            succeeded.setdefault(dest.parent, []).append(lfn)
            continue
        print(f"Trying to download {se_url} to {dest}")
        if _download_should_fail(lfn):
            print(f"Failed to download {se_url}: Connection timed out (b2core stand-in)")
            failed.append(lfn)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        succeeded.setdefault(dest.parent, []).append(lfn)
    print()
    print("Successfully downloaded files:")
    for directory, lfns in succeeded.items():
        print("\n".join(lfns) + f" in {directory}")
    print()
    print()
    print("Failed files:")
    for lfn in failed:
        print(lfn)
    if args.failed_lfns and failed:
        with open(args.failed_lfns, "w", encoding="utf-8") as fobj:
            fobj.write("\n".join(failed) + "\n")
    return 0


# --------------------------------------------------------------------------- proxy


def cmd_proxy_info(argv: list[str]) -> int:
    parser = Parser("gb2_proxy_info", description="Print information about the current proxy.")
    parser.add_argument("-g", "--group")
    args = parser.parse(argv)
    if args is None:
        return 0
    proxy = common.current_proxy()
    if proxy is None:
        print(f"Error: No proxy found: {common.proxy_file_path()} does not exist (run gb2_proxy_init)")
        return 1
    print("\n".join(proxy_info_lines(proxy)))
    return 0


def proxy_info_lines(proxy: dict) -> list[str]:
    user = proxy["user"]
    identity = common.dn_for(user)
    return [
        f"subject      : {identity}/CN=1234567890/CN=2345678901",
        f"issuer       : {identity}/CN=1234567890",
        f"identity     : {identity}",
        f"timeleft     : {common.fmt_duration(proxy['seconds_left'])}",
        f"DIRAC group  : {proxy.get('group', 'belle')}",
        f"path         : {common.proxy_file_path()}",
        f"username     : {user}",
        "properties   : NormalUser",
        "VOMS         : True",
        f"VOMS fqan    : ['/{proxy.get('group', 'belle')}']"
        if proxy.get("group", "belle") == "belle"
        else f"VOMS fqan    : ['/belle/{proxy.get('group')}']",
    ]


def cmd_proxy_init(argv: list[str]) -> int:
    parser = Parser("gb2_proxy_init", description="Create a grid proxy.")
    parser.add_argument("-g", "--group", default="belle")
    parser.add_argument("-v", "--valid", default="24:00", help="validity HH:MM")
    parser.add_argument("--pwstdin", action="store_true", help="read the certificate password from stdin")
    args = parser.parse(argv)
    if args is None:
        return 0
    match = re.fullmatch(r"(\d+)(?::(\d+))?", args.valid.strip())
    if not match:
        print(f"Error: invalid validity '{args.valid}', expected HH:MM")
        return 1
    seconds = int(match.group(1)) * 3600 + int(match.group(2) or 0) * 60
    print("Generating proxy...")
    if args.pwstdin or not sys.stdin.isatty():
        print("Enter Certificate password:", end="", flush=True)
        password = sys.stdin.readline().rstrip("\n")
    else:  # pragma: no cover - interactive only
        password = getpass.getpass("Enter Certificate password:")
    expected = common.get_config("cert_password")
    if not password or (expected is not None and password != str(expected)):
        print("Bad passphrase")
        print("Error: Operation not permitted ( 1 : )")
        return 0  # the real tool reports this on stdout and still exits with 0
    print()
    user = common.default_user()
    identity = common.dn_for(user)
    now = time.time()
    proxy = {"user": user, "group": args.group, "created": now, "expires": now + seconds}
    with common.locked():
        common.write_json(common.state_dir() / "proxy.json", proxy)
        common.proxy_file_path().write_text(
            "-----BEGIN CERTIFICATE-----\nb2core stand-in proxy\n-----END CERTIFICATE-----\n",
            encoding="utf-8",
        )
    proxy["seconds_left"] = seconds
    until = time.strftime("%Y/%m/%d %H:%M", time.gmtime(now + seconds))
    lines = [
        "",
        "Contacting CS...",
        f"Checking DN {identity}",
        f"Username is {user}",
        f"Creating proxy for {user}@{args.group} ({identity})",
        f"Added VOMS attribute /{args.group if args.group == 'belle' else 'belle/' + args.group}",
        "Uploading proxy..",
        f"Uploading {identity} proxy to ProxyManager...",
        "Loading user proxy",
        "Uploading proxy on-the-fly",
        f"Cert file {Path.home()}/.globus/usercert.pem",
        f"Key file  {Path.home()}/.globus/userkey.pem",
        "Loading cert and key",
        "User credentials loaded",
        " Uploading...",
        "Proxy uploaded",
        "Proxy generated:",
        *proxy_info_lines(proxy),
        "",
        "Proxies uploaded:",
        f" DN{' ' * (len(identity) - 1)}| Until (GMT)",
        f" {identity} | {until}",
        "Succeed with return value:",
        "0",
    ]
    print("\n".join(lines))
    return 0


# --------------------------------------------------------------------------- entry point

COMMANDS = {
    "gbasf2": cmd_gbasf2,
    "gb2_job_status": cmd_job_status,
    "gb2_project_summary": cmd_project_summary,
    "gb2_job_reschedule": cmd_job_reschedule,
    "gb2_job_kill": cmd_job_kill,
    "gb2_job_delete": cmd_job_delete,
    "gb2_job_output": cmd_job_output,
    "gb2_ds_get": cmd_ds_get,
    "gb2_ds_list": cmd_ds_list,
    "gb2_proxy_info": cmd_proxy_info,
    "gb2_proxy_init": cmd_proxy_init,
}


def main(tool: str, argv: list[str]) -> int:
    common.log_call(tool, argv)
    try:
        return COMMANDS[tool](argv) or 0
    except SystemExit as exc:  # argparse errors and --help
        return int(exc.code or 0)
    finally:
        sys.stdout.flush()
