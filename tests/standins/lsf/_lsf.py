"""LSF stand-in: bsub, bjobs, bkill.  The executables in ``bin/`` call ``main(tool, argv)``.

Formats follow IBM Spectrum LSF and its open-source ancestor OpenLava (see
``../recorded/README.md``).  Queue mechanics live in ``../standin_queue.py``.

Job life cycle: PEND until the monitor starts the job (``B2CORE_STANDIN_START_DELAY``
seconds, default 0), RUN, then DONE (exit code 0) or EXIT.  Finished jobs stay
visible to ``bjobs`` for ``B2CORE_STANDIN_LSF_CLEAN_PERIOD`` seconds (LSF's
CLEAN_PERIOD, default 3600).  ``bkill`` sends SIGINT, SIGTERM and SIGKILL to the
job's process group (LSF's JOB_TERMINATE_INTERVAL is shortened to 0.5 s); the job
becomes EXIT with the exit code of the killed shell (130 after SIGINT).
Commands are run with ``/bin/sh -c`` like LSF's job file does; ``-o`` appends,
``-oo`` overwrites, stderr goes to the ``-o`` file unless ``-e``/``-eo`` is given,
and a job report is appended to the output file unless
``B2CORE_STANDIN_LSF_NO_REPORT=1``.

Job arrays (``bsub -J "name[1-10,20]"``, optionally ``%limit``): one job id, one
record per element keyed ``"<id>[<index>]"`` in the queue, each element run by its
own thread of the array's monitor process with ``LSB_JOBINDEX`` set and ``%J``/``%I`` expanded in -o/-e paths.
``bjobs`` shows elements with the plain id in JOBID (``LSB_BJOBS_DISPLAY_ENH=Y`` shows
``id[index]``) and ``name[index]`` as JOB_NAME, accepts ``id``, ``"id[2]"`` and
``"id[1-3,5]"``; ``bjobs -A`` summarises arrays; ``bkill id`` kills every element and
``bkill "id[1-3]"`` the listed ones, one message per element (OpenLava getSpecJobIds).
The submission environment is kept in ``<state>/lsf/env/<id>.json``, not in queue.json.
Deviation: bkill returns once the killed jobs are recorded as EXIT (real LSF returns at
once and bjobs may show RUN for a moment).
Test knob (no real bsub has it): when the state directory holds a file ``kill_submitter``,
the next ``bsub`` removes it, submits, answers and then kills its caller with SIGKILL, like
a steering process that dies after the batch system accepted a submission but before it
recorded the job ids.
"""

# printf-style formatting is kept on purpose: it mirrors the C sources of the real tools.
# ruff: noqa: UP031, SIM905, SIM114

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

_HERE = os.path.dirname(os.path.realpath(__file__))
_STANDINS = os.path.dirname(_HERE)
if _STANDINS not in sys.path:
    sys.path.insert(0, _STANDINS)

import standin_queue  # noqa: E402

SYSTEM = "lsf"
CLUSTER = "standin_cluster"
FINISHED = ("DONE", "EXIT")
UNFINISHED = ("PEND", "RUN", "PSUSP", "USUSP", "SSUSP", "WAIT")
DAEMON_DOWN = "batch system daemon not responding ... still trying\n"
CONN_REFUSED = "Connection refused by server"
#: lsb.params MAX_JOB_ARRAY_SIZE default: most elements per array and largest index
MAX_JOB_ARRAY_SIZE = 1000
#: LSF's JOB_TERMINATE_INTERVAL, shortened: wait between SIGINT, SIGTERM and SIGKILL
TERMINATE_INTERVAL = 0.5
#: "name[index_list]" with an optional "%limit" (bsub -J)
ARRAY_NAME = re.compile(r"^(?P<name>[^\[\]]*)\[(?P<spec>[^\]]*)\](?:%(?P<limit>\d+))?$")
#: monitor argument for "every element of this array"
ALL_ELEMENTS = "[*]"
#: a job id argument of bjobs/bkill: "123" or "123[index_list]"
JOB_ARG = re.compile(r"^(?P<id>\d+)(?:\[(?P<spec>[^\]]*)\])?$")

# bsub options: (name, takes_argument).  Longer names first, so that prefix
# matching (LSF's my_getopt accepts "-qshort" and "-env all") picks the right one.
BSUB_OPTIONS = sorted(
    [
        (n, True)
        for n in (
            "a app b C c cwd D data datagrp E Ep e eo env ext extsched F f G g gpu i is J Jd jsdl "
            "jsdl_strict k L Lp M m mig n o oo outdir P p pack Q q R rnc S s sla sp T t U u v W We w wa wt"
        ).split()
    ]
    + [(n, False) for n in "B H I Ip Is IS ISp ISs IX K N r rn ul x Zs h V tty XF hl".split()],
    key=lambda item: -len(item[0]),
)
BJOBS_OPTIONS = sorted(
    [(n, True) for n in "app G g J Jd Lp m o P q sla u".split()]
    + [(n, False) for n in "A a aps d hms json l N noheader p pe pi psum r s sum UF W WF WL WP w X x".split()],
    key=lambda item: -len(item[0]),
)
BKILL_OPTIONS = sorted(
    [(n, True) for n in "app g J m q s sla u".split()] + [(n, False) for n in "b d l r h V".split()],
    key=lambda item: -len(item[0]),
)


def _err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class OptionError(Exception):
    pass


def lsf_getopt(tool, argv, template, interspersed=False):
    """LSF's my_getopt: options are matched in template order, exactly or as a
    prefix (the rest being the argument).  For bsub the first non-option starts the
    command; bjobs and bkill also accept options after job ids (``bjobs -o f 12 -json``)."""
    opts, operands, i = [], [], 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            if not interspersed:
                break
            operands.append(arg)
            i += 1
            continue
        name = arg[1:]
        if name.startswith("-"):  # "--" ends the options
            i += 1
            break
        for opt, takes_arg in template:
            if name == opt:
                if takes_arg:
                    if i + 1 >= len(argv):
                        raise OptionError(f"{tool}: option requires an argument -- {opt}\n")
                    i += 1
                    opts.append((opt, argv[i]))
                else:
                    opts.append((opt, None))
                break
            if name.startswith(opt):
                if not takes_arg:
                    raise OptionError(f"{tool}: option cannot have an argument -- {opt}\n")
                opts.append((opt, name[len(opt) :]))
                break
        else:
            raise OptionError(f"{tool}: illegal option -- {name}\n")
        i += 1
    return opts, operands + argv[i:]


def _usage(tool):
    lines = {
        "bsub": "Usage: bsub [-h] [-V] [-H] [-x] [-r] [-N] [-B] [-I | -Ip | -Is | -K]\n",
        "bjobs": "Usage: bjobs [-h] [-V] [-A] [-a] [-aps| -l | -w ] [-d] [-p] [-s] [-r]\n",
        "bkill": "Usage: bkill [-h] [-V] [-l] [-b] [-d] [-r | -s signal_value | signal_name ]\n",
    }
    _err(lines[tool])
    _err("\t(the b2core stand-in prints only the start of the real usage text)\n")


def clean_period() -> float:
    return float(os.environ.get("B2CORE_STANDIN_LSF_CLEAN_PERIOD", "3600") or 3600)


def default_queue() -> str:
    return os.environ.get("B2CORE_STANDIN_LSF_DEFAULT_QUEUE", "normal") or "normal"


def _ctime(epoch) -> str:
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(epoch))


def _short_time(epoch) -> str:
    if not epoch:
        return ""
    t = time.localtime(epoch)
    return time.strftime("%b ", t) + "%2d" % t.tm_mday + time.strftime(" %H:%M", t)


# ===================================================================== job arrays


class IndexError_(ValueError):
    """A bad index list; the text is LSF's message (lsberrno LSBE_BAD_IDX or LSBE_BIG_IDX)."""


def parse_index_list(spec: str, limit: int | None = MAX_JOB_ARRAY_SIZE) -> list[int]:
    """The indices of "1-5,7,10-20:2" in order, without duplicates (OpenLava idxparse)."""
    indices: list[int] = []
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*(?::\s*(\d+)\s*)?)?", part)
        if not match:
            raise IndexError_("Job array index error")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else start
        step = int(match.group(3)) if match.group(3) else 1
        if start <= 0 or end < start or step <= 0:
            raise IndexError_("Job array index error")
        if limit is not None and end > limit:
            raise IndexError_("Job array index too large")
        indices.extend(range(start, end + 1, step))
    unique = list(dict.fromkeys(indices))
    if limit is not None and len(unique) > limit:
        raise IndexError_("Job array index too large")
    return unique


def job_key(job_id, index: int = 0) -> str:
    """The queue key and the id LSF prints (lsb_jobid2str): "123", or "123[4]" for an element."""
    return f"{job_id}[{index}]" if index else str(job_id)


def _key(job: dict) -> str:
    return job_key(job["id"], job.get("index", 0))


def _order(job: dict):
    return (job["id"], job.get("index", 0))


def _env_path(job_id) -> str:
    return os.path.join(str(standin_queue.system_dir(SYSTEM)), "env", f"{job_id}.json")


def _save_env(job_id, env: dict) -> None:
    """The submission environment goes to its own file: one copy per array keeps queue.json small."""
    path = _env_path(job_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    standin_queue.atomic_write(Path(path), json.dumps(env))


def _load_env(job: dict) -> dict:
    with open(_env_path(job["id"])) as handle:
        return json.load(handle)


# =========================================================================== bsub


def _parse_env(value: str, submit_env: dict) -> dict:
    items = [item.strip() for item in value.split(",") if item.strip()]
    env = {}
    for item in items:
        if item.lower() == "all":
            env.update(submit_env)
        elif item.lower() == "none":
            continue
        elif "=" in item:
            key, _, val = item.partition("=")
            env[key.strip()] = val.strip()
        elif item in submit_env:
            env[item] = submit_env[item]
    return env


def _get_val_pair(text: str):
    """OpenLava getValPair: "min[,max]" (or "min/max") of integers."""
    token = text.strip().split()[0] if text.strip() else ""
    if not token:
        return None, None
    parts = re.split(r"[,/]", token, maxsplit=1)
    values = []
    for part in parts:
        if part == "":
            values.append(None)
            continue
        if not re.fullmatch(r"[+-]?\d+", part):
            raise ValueError(part)
        values.append(int(part))
    if all(v is None for v in values):
        raise ValueError(token)
    return values[0], values[1] if len(values) > 1 else None


def bsub_main(argv) -> int:
    try:
        opts, command = lsf_getopt("bsub", argv, BSUB_OPTIONS)
    except OptionError as exc:
        _err(str(exc))
        _usage("bsub")
        return 255
    options = {}
    for name, value in opts:
        if name in ("h",):
            _usage("bsub")
            return 0
        options[name] = value
    if "n" in options:
        try:
            low, high = _get_val_pair(options["n"])
        except ValueError:
            _err("Bad argument for option -n. Job not submitted.\n")
            return 255
        if (low is not None and low <= 0) or (high is not None and high <= 0):
            _err("The number of processors must be a positive integer. Job not submitted.\n")
            return 255
        slots = low or high or 1
    else:
        slots = 1
    if "W" in options and not re.fullmatch(r"(\d+:)?\d+(/\S+)?", options["W"].strip()):
        _err(f"{options['W']}: Bad RUNLIMIT specification. Job not submitted.\n")
        return 255
    if not command:
        script = sys.stdin.read() if not sys.stdin.isatty() else ""
        command_line = script
    else:
        command_line = " ".join(command)
    if not command_line.strip():
        _err("No command is specified. Job not submitted.\n")
        return 255
    name = options.get("J") or command_line.strip()
    array = ARRAY_NAME.match(options["J"].strip()) if options.get("J") and "[" in options["J"] else None
    indices, limit = [0], None
    if options.get("J") and "[" in options["J"]:
        try:
            if array is None:
                raise IndexError_("Job array index error")
            indices = parse_index_list(array.group("spec"))
        except IndexError_ as exc:
            _err(f"{exc}. Job not submitted.\n")
            return 255
        limit = int(array.group("limit")) if array.group("limit") else None
        name = options["J"].strip()
    if standin_queue.should_fail("bsub"):
        _err(DAEMON_DOWN + f"{CONN_REFUSED}. Job not submitted.\n")
        return 255
    env_spec = options.get("env", "all").strip() or "all"
    queue = options.get("q", "").strip().split()[0] if options.get("q", "").strip() else None
    cwd = os.path.abspath(os.path.expanduser(options["cwd"])) if options.get("cwd") else os.getcwd()
    now = time.time()
    delay = float(os.environ.get("B2CORE_STANDIN_START_DELAY", "0") or 0)
    with standin_queue.Queue(SYSTEM) as q:
        job_id = q.next_id(100000, 999999)
        _save_env(job_id, _parse_env(env_spec, dict(os.environ)))

        def subst(path, index):
            return path.replace("%J", str(job_id)).replace("%I", str(index)) if path else path

        for index in indices:
            out = subst(options.get("oo") or options.get("o"), index)
            err = subst(options.get("eo") or options.get("e"), index)
            job = {
                "id": job_id,
                "index": index,
                "stat": "PEND",
                "queue": queue or default_queue(),
                "default_queue": queue is None,
                "user": standin_queue.username(),
                # an element's name is the array name with its own index (OpenLava displayJobs)
                "name": f"{array.group('name')}[{index}]" if array else name,
                "array_spec": name if array else None,
                "array_limit": limit,
                "command": command_line,
                "cwd": cwd,
                "out": os.path.join(cwd, out) if out else None,
                "err": os.path.join(cwd, err) if err else None,
                "out_mode": "w" if "oo" in options else "a",
                "err_mode": "w" if "eo" in options else "a",
                "slots": slots,
                "env_spec": env_spec,
                "submit_time": now,
                "from_host": standin_queue.hostname(),
                "exit_code": None,
            }
            standin_queue.new_run(job, delay)
            q.jobs[job_key(job_id, index)] = job
    # one monitor process per submission; an array's monitor runs its elements in threads
    standin_queue.spawn_monitor(__file__, SYSTEM, job_key(job_id, 0) if indices == [0] else f"{job_id}{ALL_ELEMENTS}")
    if queue is None:
        _out(f"Job <{job_id}> is submitted to default queue <{default_queue()}>.\n")
    else:
        _out(f"Job <{job_id}> is submitted to queue <{queue}>.\n")
    standin_queue.kill_submitter_once()
    return 0


# ===================================================================== job monitor


def _prepare(job):
    env = _load_env(job)
    host = standin_queue.hostname()
    env.update(
        {
            "LSB_JOBID": str(job["id"]),
            "LSB_JOBNAME": job["name"],
            "LSB_QUEUE": job["queue"],
            "LSB_JOBINDEX": str(job.get("index", 0)),
            "LSB_HOSTS": " ".join([host] * job["slots"]),
            "LSB_MCPU_HOSTS": f"{host} {job['slots']}",
            "LSB_DJOB_NUMPROC": str(job["slots"]),
            "LSB_MAX_NUM_PROCESSORS": str(job["slots"]),
            "LSB_EXEC_CLUSTER": CLUSTER,
            "LSB_SUB_HOST": job["from_host"],
            "LS_SUBCWD": job["cwd"],
            "LSFUSER": job["user"],
        }
    )
    if job.get("out"):
        env["LSB_OUTPUTFILE"] = job["out"]
    if job.get("err"):
        env["LSB_ERRORFILE"] = job["err"]
    stdout = job.get("out") or os.path.join(str(standin_queue.system_dir(SYSTEM)), "mail", f"{_key(job)}.out")
    merge = not job.get("err")
    return standin_queue.RunSpec(
        ["/bin/sh", "-c", job["command"]],
        job["cwd"],
        env,
        stdout=stdout,
        stderr=job.get("err"),
        stdout_mode=job["out_mode"],
        stderr_mode=job["err_mode"],
        stderr_to_stdout=merge,
    )


def _on_start(job):
    job["stat"] = "RUN"
    job["start_time"] = time.time()
    job["exec_host"] = ":".join([standin_queue.hostname()] * job["slots"])


def _on_exec_error(job, exc):
    job["stat"] = "EXIT"
    job["exit_code"] = 127
    job["finish_time"] = time.time()
    job["exit_reason"] = ""


def _on_exit(job, returncode):
    code = returncode if returncode >= 0 else 128 - returncode
    job["finish_time"] = time.time()
    if job.get("killed"):
        job["stat"] = "EXIT"
        job["exit_code"] = code or 130
        job["exit_reason"] = "TERM_OWNER: job killed by owner"
    elif code == 0:
        job["stat"] = "DONE"
        job["exit_code"] = 0
    else:
        job["stat"] = "EXIT"
        job["exit_code"] = code
        job["exit_reason"] = ""
    _write_report(job)


def _write_report(job):
    if os.environ.get("B2CORE_STANDIN_LSF_NO_REPORT") == "1" or not job.get("out"):
        return
    host, user = standin_queue.hostname(), job["user"]
    done = job["stat"] == "DONE"
    status = "Successfully completed." if done else f"Exited with exit code {job['exit_code']}."
    if job.get("killed"):
        status = f"Exited with exit code {job['exit_code']}.\n\nTERM_OWNER: job killed by owner."
    text = (
        "\n------------------------------------------------------------\n"
        f"Sender: LSF System <lsfadmin@{host}>\n"
        f"Subject: Job {_key(job)}: <{job['name']}> in cluster <{CLUSTER}> {'Done' if done else 'Exited'}\n\n"
        f"Job <{job['name']}> was submitted from host <{job['from_host']}> by user <{user}> in cluster "
        f"<{CLUSTER}> at {_ctime(job['submit_time'])}\n"
        f"Job was executed on host(s) <{host}>, in queue <{job['queue']}>, as user <{user}> in cluster "
        f"<{CLUSTER}> at {_ctime(job.get('start_time') or job['submit_time'])}\n"
        f"<{os.path.expanduser('~')}> was used as the home directory.\n"
        f"<{job['cwd']}> was used as the working directory.\n"
        f"Started at {_ctime(job.get('start_time') or job['submit_time'])}\n"
        f"Terminated at {_ctime(job['finish_time'])}\n"
        f"Results reported at {_ctime(job['finish_time'])}\n\n"
        "Your job looked like:\n\n"
        "------------------------------------------------------------\n"
        "# LSBATCH: User input\n"
        f"{job['command']}\n"
        "------------------------------------------------------------\n\n"
        f"{status}\n\n"
        "The output (if any) is above this job summary.\n\n"
    )
    try:
        with open(job["out"], "a") as handle:
            handle.write(text)
    except OSError:
        pass


HANDLERS = {SYSTEM: (_prepare, _on_start, _on_exec_error, _on_exit)}


# ========================================================================== bjobs

FIELD_ALIASES = {
    "id": "jobid",
    "st": "stat",
    "name": "job_name",
    "ecode": "exit_code",
    "cmd": "command",
    "q": "queue",
    "from": "from_host",
    "exec": "exec_host",
    "proj": "proj_name",
    "exit_reason": "exit_reason",
    "jobindex": "jobindex",
}


def _display_enh() -> bool:
    """lsf.conf LSB_BJOBS_DISPLAY_ENH=Y: JOBID shows "id[index]" for array elements (default N)."""
    return os.environ.get("LSB_BJOBS_DISPLAY_ENH", "N").strip().upper() == "Y"


def _jobid(job) -> str:
    return _key(job) if _display_enh() else str(job["id"])


def _field(job, name):
    if name == "jobid":
        return _jobid(job)
    if name == "stat":
        return job["stat"]
    if name == "user":
        return job["user"]
    if name == "queue":
        return job["queue"]
    if name == "job_name":
        return job["name"]
    if name in ("command", "cmd"):
        return job["command"]
    if name == "exit_code":
        return "" if not job.get("exit_code") or job["stat"] != "EXIT" else str(job["exit_code"])
    if name == "from_host":
        return job["from_host"]
    if name == "exec_host":
        return job.get("exec_host", "") if job["stat"] != "PEND" else ""
    if name == "submit_time":
        return _short_time(job["submit_time"])
    if name == "start_time":
        return _short_time(job.get("start_time"))
    if name == "finish_time":
        return _short_time(job.get("finish_time")) + (" L" if job.get("finish_time") else "")
    if name == "output_file":
        return job.get("out") or ""
    if name == "error_file":
        return job.get("err") or ""
    if name == "exit_reason":
        return job.get("exit_reason", "") or ""
    if name == "pend_reason":
        return "New job is waiting for scheduling;" if job["stat"] == "PEND" else ""
    if name == "proj_name":
        return "default"
    if name == "pids":
        pid = (job.get("_run") or {}).get("pid")
        return str(pid) if pid and job["stat"] == "RUN" else ""
    if name in ("slots", "nalloc_slot", "nreq_slot"):
        return str(job["slots"])
    if name == "jobindex":
        return str(job.get("index", 0))
    if name == "exec_cwd":
        return job["cwd"] if job["stat"] != "PEND" else ""
    if name == "sub_cwd":
        return job["cwd"]
    return None


def _visible(job, now) -> bool:
    if job["stat"] in FINISHED:
        return now - job.get("finish_time", now) <= clean_period()
    return True


BJOBS_HEADER = "JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME\n"


def format_bjobs_row(jobid, user, stat, queue, from_host, exec_host, name, submit_time, wide=False) -> str:
    """One line of the default ``bjobs`` table: OpenLava displayJobs() cuts user, queue and
    hosts to their columns ("%-7.7s", "%-10.10s", "%-11.11s") and long job names to
    "*" + their tail (TRUNC_STR); ``-w`` prints every value whole."""
    if wide:
        return "%-7s %-7s %-5s %-10s %-11s %-11s %-10s %s\n" % (
            jobid,
            user,
            stat,
            queue,
            from_host,
            exec_host,
            name,
            submit_time,
        )
    return "%-7s %-7.7s %-5.5s %-10.10s %-11.11s %-11.11s %-10.10s %s\n" % (
        jobid,
        user,
        stat,
        queue,
        from_host,
        exec_host,
        _truncate(name, 10, wide),
        submit_time,
    )


BJOBS_ARRAY_HEADER = "JOBID    ARRAY_SPEC  OWNER   NJOBS PEND DONE  RUN EXIT SSUSP USUSP PSUSP\n"


def format_array_row(jobid, array_spec: str, owner: str, counts: dict, wide: bool = False) -> str:
    """One line of ``bjobs -A`` (OpenLava displayJobs, JGRP_NODE_ARRAY)."""
    head = "%-7s  %s %s " % (jobid, array_spec, owner) if wide else "%-7s  %-8.8s %8.8s " % (jobid, array_spec, owner)
    return head + "  %5d %4d %4d %4d %4d %5d %5d %5d\n" % tuple(
        counts.get(key, 0) for key in ("NJOBS", "PEND", "DONE", "RUN", "EXIT", "SSUSP", "USUSP", "PSUSP")
    )


def _select_ids(ids, jobs: dict):
    """Jobs named by bjobs arguments: "123" (a job or every element of an array), "123[2]",
    "123[1-3,5]" (OpenLava getSpecJobIds expands index lists); plus the ids not found."""
    selected, missing = [], []
    for ident in ids:
        match = JOB_ARG.match(ident)
        if match is None:
            missing.append(ident)
            continue
        job_id = int(match.group("id"))
        if job_id == 0 and match.group("spec") is None:
            selected.extend(sorted(jobs.values(), key=_order))
            continue
        if match.group("spec") is None:
            found = sorted((j for j in jobs.values() if j["id"] == job_id), key=_order)
            if found:
                selected.extend(found)
            else:
                missing.append(str(job_id))
            continue
        try:
            indices = parse_index_list(match.group("spec"), limit=None)
        except IndexError_:
            missing.append(ident)
            continue
        for index in indices:
            job = jobs.get(job_key(job_id, index))
            if job is None:
                missing.append(job_key(job_id, index))
            else:
                selected.append(job)
    unique = {_key(job): job for job in selected}
    return list(unique.values()), missing


def _truncate(value: str, width: int, wide: bool) -> str:
    if wide or len(value) <= width:
        return value
    return "*" + value[-(width - 1) :]


def bjobs_main(argv) -> int:
    try:
        opts, ids = lsf_getopt("bjobs", argv, BJOBS_OPTIONS, interspersed=True)
    except OptionError as exc:
        _err(str(exc))
        _usage("bjobs")
        return 255
    flags = {name for name, value in opts if value is None}
    values = dict((name, value) for name, value in opts if value is not None)
    if standin_queue.should_fail("bjobs"):
        _err(DAEMON_DOWN + CONN_REFUSED + "\n")
        return 255
    now = time.time()
    with standin_queue.Queue(SYSTEM) as q:
        jobs = {jid: job for jid, job in q.jobs.items() if _visible(job, now)}
    selected, missing = [], []
    if ids:
        selected, missing = _select_ids(ids, jobs)
    else:
        for job in sorted(jobs.values(), key=_order):
            if "a" in flags or ("d" in flags and job["stat"] in FINISHED):
                selected.append(job)
            elif "d" not in flags and job["stat"] in UNFINISHED:
                selected.append(job)
        if "r" in flags:
            selected = [j for j in selected if j["stat"] == "RUN"]
        if "p" in flags:
            selected = [j for j in selected if j["stat"] == "PEND"]
    if "J" in values:
        selected = [j for j in selected if values["J"] in (j["name"], j.get("array_spec"), _base_name(j))]
    if "q" in values:
        selected = [j for j in selected if j["queue"] == values["q"]]
    if "u" in values and values["u"] not in ("all", standin_queue.username()):
        selected = []
    fields = None
    if "o" in values:
        fields = _parse_format(values["o"])
    if "json" in flags and fields is not None:
        return _bjobs_json(selected, missing, fields, bool(ids), flags)
    rc = 0
    if not selected and not missing:
        if "a" in flags or "d" in flags:
            _err("No job found\n")
        elif "r" in flags:
            _err("No running job found\n")
        elif "p" in flags:
            _err("No pending job found\n")
        else:
            _err("No unfinished job found\n")
        return 0
    if "A" in flags:
        rc = _bjobs_arrays(selected, "w" in flags)
    elif fields is not None:
        _bjobs_custom(selected, fields, "noheader" in flags)
    elif "l" in flags:
        _bjobs_long(selected)
    elif selected:
        wide = "w" in flags
        lines = [] if "noheader" in flags else [BJOBS_HEADER]
        for job in selected:
            lines.append(
                format_bjobs_row(
                    _jobid(job),
                    job["user"],
                    job["stat"],
                    job["queue"],
                    job["from_host"],
                    "   -    " if wide and job["stat"] == "PEND" else _field(job, "exec_host"),  # OpenLava -w
                    job["name"],
                    _short_time(job["submit_time"]),
                    wide,
                )
            )
        _out("".join(lines))
    for ident in missing:
        _err(f"Job <{ident}> is not found\n")
        rc = 255
    return rc


def _base_name(job) -> str | None:
    spec = job.get("array_spec")
    return spec.split("[")[0] if spec else None


def _bjobs_arrays(selected, wide: bool) -> int:
    """``bjobs -A``: one summary line per job array; plain jobs are left out."""
    arrays: dict = {}
    for job in selected:
        if job.get("array_spec"):
            arrays.setdefault(job["id"], []).append(job)
    if not arrays:
        _err("No job array found\n")
        return 255
    lines = [BJOBS_ARRAY_HEADER]
    for job_id, elements in sorted(arrays.items()):
        counts = {"NJOBS": len(elements)}
        for element in elements:
            counts[element["stat"]] = counts.get(element["stat"], 0) + 1
        lines.append(format_array_row(job_id, elements[0]["array_spec"], elements[0]["user"], counts, wide))
    _out("".join(lines))
    return 0


def _parse_format(text):
    fields = []
    for part in text.split():
        if part.startswith("delimiter="):
            continue
        name = part.split(":")[0].lower()
        fields.append(FIELD_ALIASES.get(name, name))
    return fields


def _bjobs_json(selected, missing, fields, by_id, flags):
    records = []
    for job in selected:
        records.append([(f.upper(), _field(job, f)) for f in fields])
    for ident in missing:
        records.append([("ERROR", f"Job <{ident}> is not found")])
    out = ["{\n", '  "COMMAND":"bjobs",\n', f'  "JOBS":{len(records)},\n', '  "RECORDS":[\n']
    for index, record in enumerate(records):
        body = ",\n".join(
            f'      "{key}":"{_json_escape(value if value is not None else "")}"' for key, value in record
        )
        out.append("    {\n" + body + "\n    }" + ("," if index + 1 < len(records) else "") + "\n")
    out.append("  ]\n}\n")
    _out("".join(out))
    if not records:
        _err("No job found\n" if ("a" in flags or "d" in flags) else "No unfinished job found\n")
    return 0


def _json_escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def _bjobs_custom(selected, fields, noheader):
    rows = [[(_field(job, f) or "-") for f in fields] for job in selected]
    lines = [] if noheader else [" ".join(f.upper() for f in fields) + "\n"]
    lines += [" ".join(row) + "\n" for row in rows]
    _out("".join(lines))


def _bjobs_long(selected):
    for job in selected:
        _out(
            f"\nJob <{_key(job)}>, Job Name <{job['name']}>, User <{job['user']}>, Project <default>, "
            f"Status <{job['stat']}>, Queue <{job['queue']}>, Command <{job['command']}>\n"
            f"{_ctime(job['submit_time'])}: Submitted from host <{job['from_host']}>, CWD <{job['cwd']}>;\n"
        )
        if job.get("finish_time"):
            if job["stat"] == "DONE":
                _out(f"{_ctime(job['finish_time'])}: Done successfully.\n")
            else:
                _out(f"{_ctime(job['finish_time'])}: Exited with exit code {job['exit_code']}.\n")
    _out("\n")


# ========================================================================== bkill


def bkill_main(argv) -> int:
    try:
        opts, ids = lsf_getopt("bkill", argv, BKILL_OPTIONS, interspersed=True)
    except OptionError as exc:
        _err(str(exc))
        _usage("bkill")
        return 255
    options = dict(opts)
    if "l" in options:
        _out(
            "HUP INT QUIT ILL TRAP ABRT EMT FPE KILL BUS SEGV SYS PIPE ALRM TERM URG STOP TSTP CONT CHLD "
            "TTIN TTOU IO XCPU XFSZ VTALRM PROF WINCH USR1 USR2\n"
        )
        return 0
    sig_name = options.get("s")
    send = None
    if sig_name:
        name = sig_name.upper()
        try:
            send = signal.Signals(int(name)) if name.isdigit() else signal.Signals["SIG" + name.replace("SIG", "")]
        except (KeyError, ValueError):
            _err(f"{sig_name}: Illegal signal value\n")
            return 255
    if not ids and not {"J", "q", "u"} & set(options):
        _usage("bkill")
        return 255
    if standin_queue.should_fail("bkill"):
        _err(DAEMON_DOWN + CONN_REFUSED + "\n")
        return 255
    rc = 0
    out, err = [], []
    killed: list[str] = []
    with standin_queue.Queue(SYSTEM) as q:
        targets = []  # (what bkill prints, the jobs it acts on)
        if "0" in ids or (not ids and {"J", "q", "u"} & set(options)):
            for job in sorted(q.jobs.values(), key=_order):
                if (
                    job["stat"] in UNFINISHED
                    and options.get("J", job["name"]) in (job["name"], job.get("array_spec"), _base_name(job))
                    and options.get("q", job["queue"]) == job["queue"]
                ):
                    targets.append((_key(job), [job]))
            if not targets:
                err.append("No unfinished job found\n")
                rc = 255
        for ident in ids:
            if ident == "0":
                continue
            for shown, jobs in _kill_targets(ident, q.jobs):
                if not jobs:
                    err.append(f"Job <{shown}>: No matching job found\n")
                    rc = 255
                elif all(job["stat"] in FINISHED for job in jobs):
                    err.append(f"Job <{shown}>: Job has already finished\n")
                    rc = 255
                else:
                    targets.append((shown, [job for job in jobs if job["stat"] not in FINISHED]))
        running = []
        for shown, jobs in targets:
            for job in jobs:
                if send is not None:
                    pid = (job.get("_run") or {}).get("pid")
                    if job["stat"] == "RUN" and pid and standin_queue.group_alive(pid):
                        os.killpg(pid, send)
                    continue
                job["killed"] = True
                if job["stat"] == "RUN" and (job.get("_run") or {}).get("state") == "running":
                    running.append(job)
                    killed.append(_key(job))
                else:  # pending: never started
                    job["_run"]["state"] = "killed"
                    job["stat"] = "EXIT"
                    job["finish_time"] = time.time()
                    job["exit_code"] = None
                    job["exit_reason"] = "TERM_OWNER: job killed by owner"
            out.append(f"Job <{shown}> is being {'signaled' if send is not None else 'terminated'}\n")
        _terminate(running)
    _wait_recorded(killed)
    _out("".join(out))
    _err("".join(err))
    return rc


def _kill_targets(ident: str, jobs: dict):
    """What one bkill argument names: "123" is the job or the whole array (one message),
    "123[1-3,5]" one entry per element (OpenLava getSpecJobIds), as (printed id, jobs)."""
    match = JOB_ARG.match(ident)
    if match is None:
        return [(ident, [])]
    job_id = int(match.group("id"))
    if match.group("spec") is None:
        return [(str(job_id), sorted((j for j in jobs.values() if j["id"] == job_id), key=_order))]
    try:
        indices = parse_index_list(match.group("spec"), limit=None)
    except IndexError_:
        return [(ident, [])]
    found = []
    for index in indices:
        job = jobs.get(job_key(job_id, index))
        found.append((job_key(job_id, index), [job] if job else []))
    return found


def _terminate(jobs) -> None:
    """SIGINT, SIGTERM, then SIGKILL to every job's process group at once, waiting
    TERMINATE_INTERVAL between them for the groups to go away (LSF's bkill sequence)."""
    pids = [job["_run"]["pid"] for job in jobs if job["_run"].get("pid")]
    for number, sig in enumerate((signal.SIGINT, signal.SIGTERM, signal.SIGKILL)):
        pids = [pid for pid in pids if standin_queue.group_alive(pid)]
        for pid in pids:
            with contextlib.suppress(OSError):  # the group may have just ended
                os.killpg(pid, sig)
        deadline = time.time() + (TERMINATE_INTERVAL if number < 2 else 0)
        while pids and time.time() < deadline:
            time.sleep(0.02)
            pids = [pid for pid in pids if standin_queue.group_alive(pid)]


def _wait_recorded(keys, timeout: float = 5.0) -> None:
    """Let the job monitors record the killed jobs as EXIT before bkill returns (see module doc)."""
    deadline = time.time() + timeout
    while keys and time.time() < deadline:
        jobs = standin_queue.read_queue(SYSTEM)["jobs"]
        keys = [key for key in keys if (jobs.get(key) or {}).get("stat") == "RUN"]
        if keys:
            time.sleep(0.05)


def main(tool: str, argv) -> int:
    standin_queue.log_call(tool, argv)
    if tool == "bsub":
        return bsub_main(argv)
    if tool == "bjobs":
        return bjobs_main(argv)
    return bkill_main(argv)


def _wait_for_slot(key: str) -> None:
    """Hold an element of "name[1-N]%M" back until fewer than M elements of its array run."""
    while True:
        jobs = standin_queue.read_queue(SYSTEM)["jobs"]  # the shared API: right for every on-disk layout
        job = jobs.get(key)
        if not job or not job.get("array_limit") or job["_run"].get("state") != "starting":
            return
        if _busy(jobs, job) < job["array_limit"]:
            with standin_queue.Queue(SYSTEM) as q:
                job = q.jobs.get(key)
                if not job or job["_run"].get("state") != "starting":
                    return
                if _busy(q.jobs, job) < job["array_limit"]:
                    job["slot"] = True
                    return
        time.sleep(0.1)


def _busy(jobs: dict, job: dict) -> int:
    return sum(1 for j in jobs.values() if j["id"] == job["id"] and j.get("slot") and j["stat"] not in FINISHED)


def _run_element(key: str) -> None:
    _wait_for_slot(key)
    standin_queue.run_monitor(SYSTEM, key, *HANDLERS[SYSTEM])


def _monitor_array(job_id: str) -> None:
    """Run every element of an array from one process (a thread each): 1000 elements must not
    mean 1000 Python processes on the test machine."""
    keys = [key for key, job in standin_queue.read_queue(SYSTEM)["jobs"].items() if str(job["id"]) == job_id]
    threads = [threading.Thread(target=_run_element, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == standin_queue.MONITOR_FLAG and sys.argv[3].endswith(ALL_ELEMENTS):
        _monitor_array(sys.argv[3][: -len(ALL_ELEMENTS)])
    elif not standin_queue.monitor_main(sys.argv, HANDLERS):
        sys.exit(main(os.path.basename(sys.argv[0]), sys.argv))
