"""LSF stand-in: bsub, bjobs, bkill.  The executables in ``bin/`` call ``main(tool, argv)``.

Formats follow IBM Spectrum LSF and its open-source ancestor OpenLava (see
``../recorded/README.md``).  Queue mechanics live in ``../_queue.py``.

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
"""

# printf-style formatting is kept on purpose: it mirrors the C sources of the real tools.
# ruff: noqa: UP031, SIM905, SIM114

from __future__ import annotations

import os
import re
import signal
import sys
import time

_HERE = os.path.dirname(os.path.realpath(__file__))
_STANDINS = os.path.dirname(_HERE)
if _STANDINS not in sys.path:
    sys.path.insert(0, _STANDINS)

import _queue  # noqa: E402

SYSTEM = "lsf"
CLUSTER = "standin_cluster"
FINISHED = ("DONE", "EXIT")
UNFINISHED = ("PEND", "RUN", "PSUSP", "USUSP", "SSUSP", "WAIT")
DAEMON_DOWN = "batch system daemon not responding ... still trying\n"
CONN_REFUSED = "Connection refused by server"

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
    if _queue.should_fail("bsub"):
        _err(DAEMON_DOWN + f"{CONN_REFUSED}. Job not submitted.\n")
        return 255
    submit_env = dict(os.environ)
    env_spec = options.get("env", "all").strip() or "all"
    queue = options.get("q", "").strip().split()[0] if options.get("q", "").strip() else None
    now = time.time()
    with _queue.Queue(SYSTEM) as q:
        job_id = q.next_id(100000, 999999)

        def subst(path):
            return path.replace("%J", str(job_id)).replace("%I", "0") if path else path

        cwd = os.path.abspath(os.path.expanduser(options["cwd"])) if options.get("cwd") else os.getcwd()
        out = subst(options.get("oo") or options.get("o"))
        err = subst(options.get("eo") or options.get("e"))
        job = {
            "id": job_id,
            "stat": "PEND",
            "queue": queue or default_queue(),
            "default_queue": queue is None,
            "user": _queue.username(),
            "name": options.get("J") or command_line.strip(),
            "command": command_line,
            "cwd": cwd,
            "out": os.path.join(cwd, out) if out else None,
            "err": os.path.join(cwd, err) if err else None,
            "out_mode": "w" if "oo" in options else "a",
            "err_mode": "w" if "eo" in options else "a",
            "slots": slots,
            "env": _parse_env(env_spec, submit_env),
            "env_spec": env_spec,
            "submit_time": now,
            "from_host": _queue.hostname(),
            "exit_code": None,
            "options": options,
        }
        _queue.new_run(job, float(os.environ.get("B2CORE_STANDIN_START_DELAY", "0") or 0))
        q.jobs[str(job_id)] = job
    _queue.spawn_monitor(__file__, SYSTEM, str(job_id))
    if queue is None:
        _out(f"Job <{job_id}> is submitted to default queue <{job['queue']}>.\n")
    else:
        _out(f"Job <{job_id}> is submitted to queue <{queue}>.\n")
    return 0


# ===================================================================== job monitor


def _prepare(job):
    env = dict(job["env"])
    host = _queue.hostname()
    env.update(
        {
            "LSB_JOBID": str(job["id"]),
            "LSB_JOBNAME": job["name"],
            "LSB_QUEUE": job["queue"],
            "LSB_JOBINDEX": "0",
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
    stdout = job.get("out") or os.path.join(str(_queue.system_dir(SYSTEM)), "mail", f"{job['id']}.out")
    merge = not job.get("err")
    return _queue.RunSpec(
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
    job["exec_host"] = ":".join([_queue.hostname()] * job["slots"])


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
    host, user = _queue.hostname(), job["user"]
    done = job["stat"] == "DONE"
    status = "Successfully completed." if done else f"Exited with exit code {job['exit_code']}."
    if job.get("killed"):
        status = f"Exited with exit code {job['exit_code']}.\n\nTERM_OWNER: job killed by owner."
    text = (
        "\n------------------------------------------------------------\n"
        f"Sender: LSF System <lsfadmin@{host}>\n"
        f"Subject: Job {job['id']}: <{job['name']}> in cluster <{CLUSTER}> {'Done' if done else 'Exited'}\n\n"
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


def _field(job, name):
    if name == "jobid":
        return str(job["id"])
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
        return "0"
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
    """One line of the default ``bjobs`` table (widths as in LSF's output)."""
    return "%-7s %-7s %-5s %-10s %-11s %-11s %-10s %s\n" % (
        jobid,
        user,
        stat,
        queue,
        _truncate(from_host, 11, wide),
        _truncate(exec_host, 11, wide),
        _truncate(name, 10, wide),
        submit_time,
    )


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
    if _queue.should_fail("bjobs"):
        _err(DAEMON_DOWN + CONN_REFUSED + "\n")
        return 255
    now = time.time()
    with _queue.Queue(SYSTEM) as q:
        jobs = {jid: job for jid, job in q.jobs.items() if _visible(job, now)}
    selected, missing = [], []
    if ids:
        for ident in ids:
            ident_clean = ident.split("[")[0]
            if ident_clean == "0":
                selected.extend(jobs.values())
                continue
            job = jobs.get(ident_clean.lstrip("0") or "0")
            if job is None:
                missing.append(ident_clean)
            else:
                selected.append(job)
    else:
        for job in sorted(jobs.values(), key=lambda j: j["id"]):
            if "a" in flags or ("d" in flags and job["stat"] in FINISHED):
                selected.append(job)
            elif "d" not in flags and job["stat"] in UNFINISHED:
                selected.append(job)
        if "r" in flags:
            selected = [j for j in selected if j["stat"] == "RUN"]
        if "p" in flags:
            selected = [j for j in selected if j["stat"] == "PEND"]
    if "J" in values:
        selected = [j for j in selected if j["name"] == values["J"]]
    if "q" in values:
        selected = [j for j in selected if j["queue"] == values["q"]]
    if "u" in values and values["u"] not in ("all", _queue.username()):
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
    if fields is not None:
        _bjobs_custom(selected, fields, "noheader" in flags)
    elif "l" in flags:
        _bjobs_long(selected)
    elif selected:
        wide = "w" in flags
        lines = [] if "noheader" in flags else [BJOBS_HEADER]
        for job in selected:
            lines.append(
                format_bjobs_row(
                    job["id"],
                    job["user"],
                    job["stat"],
                    job["queue"],
                    job["from_host"],
                    _field(job, "exec_host"),
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
            f"\nJob <{job['id']}>, Job Name <{job['name']}>, User <{job['user']}>, Project <default>, "
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
    if _queue.should_fail("bkill"):
        _err(DAEMON_DOWN + CONN_REFUSED + "\n")
        return 255
    rc = 0
    out, err = [], []
    with _queue.Queue(SYSTEM) as q:
        targets = []
        if "0" in ids or (not ids and {"J", "q", "u"} & set(options)):
            for job in sorted(q.jobs.values(), key=lambda j: j["id"]):
                if (
                    job["stat"] in UNFINISHED
                    and options.get("J", job["name"]) == job["name"]
                    and options.get("q", job["queue"]) == job["queue"]
                ):
                    targets.append((str(job["id"]), job))
            if not targets:
                err.append("No unfinished job found\n")
                rc = 255
        for ident in ids:
            if ident == "0":
                continue
            job = q.jobs.get(ident.split("[")[0])
            if job is None:
                err.append(f"Job <{ident}>: No matching job found\n")
                rc = 255
            elif job["stat"] in FINISHED:
                err.append(f"Job <{ident}>: Job has already finished\n")
                rc = 255
            else:
                targets.append((ident, job))
        for ident, job in targets:
            if send is not None:
                if job["stat"] == "RUN":
                    pid = job["_run"].get("pid")
                    if pid and _queue.group_alive(pid):
                        os.killpg(pid, send)
                out.append(f"Job <{ident}> is being signaled\n")
                continue
            job["killed"] = True
            if job["stat"] == "RUN" and _queue.kill_run(job, (signal.SIGINT, signal.SIGTERM, signal.SIGKILL), 0.5):
                pass
            else:  # pending: never started
                job["_run"]["state"] = "killed"
                job["stat"] = "EXIT"
                job["finish_time"] = time.time()
                job["exit_code"] = None
                job["exit_reason"] = "TERM_OWNER: job killed by owner"
            out.append(f"Job <{ident}> is being terminated\n")
    _out("".join(out))
    _err("".join(err))
    return rc


def main(tool: str, argv) -> int:
    _queue.log_call(tool, argv)
    if tool == "bsub":
        return bsub_main(argv)
    if tool == "bjobs":
        return bjobs_main(argv)
    return bkill_main(argv)


if __name__ == "__main__":
    if not _queue.monitor_main(sys.argv, HANDLERS):
        sys.exit(main(os.path.basename(sys.argv[0]), sys.argv))
