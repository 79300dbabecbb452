"""HTCondor stand-in: condor_submit, condor_q, condor_history, condor_rm, condor_hold,
condor_release.  The executables in ``bin/`` call ``main(tool, argv)``.

Output formats follow the HTCondor sources and manual (see ``../recorded/README.md``
for every recorded sample and its source).  Queue mechanics live in ``../standin_queue.py``.

Job life cycle: a submitted job is idle (JobStatus 1) until its monitor starts it
(``B2CORE_STANDIN_START_DELAY`` seconds after submission, default 0), then running
(2).  When it ends it is completed (4) and leaves the queue for the history, like
the real schedd does.  ``condor_rm`` kills the process group and moves the job to
the history with JobStatus 3.  ``condor_hold`` kills it and keeps it in the queue
with JobStatus 5; ``condor_release`` makes it idle again and reruns it.  A job
whose executable cannot be executed is held with HoldReasonCode 6 (as HTCondor
does when the starter fails to create the process).

Policies of a running job are checked every ``B2CORE_STANDIN_CONDOR_POLICY_INTERVAL``
seconds (default 0.5; the real schedd's PERIODIC_EXPR_INTERVAL is 60 s): ``periodic_hold``
(HoldReasonCode 3, ``periodic_hold_reason``/``periodic_hold_subcode``) and
``periodic_remove``; with ``B2CORE_STANDIN_CONDOR_MEMORY_LIMIT=hard`` at submission (a
pool with cgroup memory limits) a job whose process group's resident memory exceeds
``request_memory`` is held with HoldReasonCode 34 and the starter's message.
``condor_version`` and every tool's ``-version`` print a real 23.8.0 version banner.
The queue is kept one file per job (``<state>/htcondor/jobs/<id>.json``, see ``standin_queue.py``).
Recordings of these additions: ``recorded/htcondor-extra.json``.
Test knob (no real condor_submit has it): when the state directory holds a file ``kill_submitter``,
the next ``condor_submit`` removes it, submits, answers and then kills its caller with SIGKILL, like
a steering process that dies after the batch system accepted a submission but before it
recorded the job ids.
"""

# printf-style formatting is kept on purpose: it mirrors the C sources of the real tools.
# ruff: noqa: UP031, SIM114

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import sys
import time

_HERE = os.path.dirname(os.path.realpath(__file__))
_STANDINS = os.path.dirname(_HERE)
if _STANDINS not in sys.path:
    sys.path.insert(0, _STANDINS)

import standin_queue  # noqa: E402

SYSTEM = "htcondor"
SCHEDD_PORT = 9618
STATUS_CHAR = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H", 6: "E", 7: "S"}
UNIVERSES = {"vanilla": 5, "scheduler": 7, "local": 12, "container": 5, "docker": 5, "parallel": 11}
#: submit commands stored as expressions in the job ad (condor_submit's SetJobPolicy/SetRequirements)
POLICY_ATTRS = {
    "requirements": "Requirements",
    "rank": "Rank",
    "on_exit_hold": "OnExitHold",
    "on_exit_remove": "OnExitRemove",
    "periodic_hold": "PeriodicHold",
    "periodic_hold_reason": "PeriodicHoldReason",
    "periodic_hold_subcode": "PeriodicHoldSubCode",
    "periodic_release": "PeriodicRelease",
    "periodic_remove": "PeriodicRemove",
}
#: what condor_version (and every tool's -version) prints: a real 23.x installation, see recorded/README
VERSION_TEXT = (
    "$CondorVersion: 23.8.0 2024-05-27 BuildID: 735879 PackageID: 23.8.0-0.735879 GitSHA: 26d1081b RC $\n"
    "$CondorPlatform: x86_64_AlmaLinux9 $\n"
)
KNOWN_SUBMIT_KEYS = {
    "executable",
    "arguments",
    "args",
    "output",
    "error",
    "input",
    "log",
    "universe",
    "getenv",
    "environment",
    "env",
    "initialdir",
    "initial_dir",
    "request_cpus",
    "request_memory",
    "request_disk",
    "request_gpus",
    "jobbatchname",
    "batch_name",
    "transfer_input_files",
    "transfer_output_files",
    "should_transfer_files",
    "when_to_transfer_output",
    "transfer_executable",
    "requirements",
    "rank",
    "notification",
    "notify_user",
    "accounting_group",
    "accounting_group_user",
    "priority",
    "max_retries",
    "retry_until",
    "success_exit_code",
    "on_exit_hold",
    "on_exit_remove",
    "periodic_hold",
    "periodic_hold_reason",
    "periodic_hold_subcode",
    "periodic_release",
    "periodic_remove",
    "stream_output",
    "stream_error",
    "leave_in_queue",
    "container_image",
    "docker_image",
    "job_max_vacate_time",
    "kill_sig",
    "log_xml",
    "nice_user",
    "max_materialize",
    "max_idle",
    "hold",
    "concurrency_limits",
    "description",
    "job_lease_duration",
    "output_destination",
    "transfer_output_remaps",
    "want_graceful_removal",
    "allowed_execute_duration",
    "allowed_job_duration",
    "coresize",
    "image_size",
    "machine_count",
    "cron_minute",
    "deferral_time",
    "+jobflavour",
    "gpus_minimum_capability",
    "encrypt_input_files",
    "skip_filechecks",
}


def _err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def schedd_address() -> str:
    host = standin_queue.hostname()
    return f"<127.0.0.1:{SCHEDD_PORT}?addrs=127.0.0.1-{SCHEDD_PORT}&alias={host}&noUDP&sock=schedd_1_1>"


def daemon_down_error() -> str:
    """CondorError text when the schedd cannot be reached (CEDAR:6001)."""
    return f"CEDAR:6001:Failed to connect to {schedd_address()}"


# ============================================================== ClassAd values


class Expr:
    """An unevaluated ClassAd expression kept as text."""

    def __init__(self, text: str):
        self.text = text

    def to_json(self):
        return {"__expr__": self.text}


def encode_value(value):
    return value.to_json() if isinstance(value, Expr) else value


def decode_value(value):
    if isinstance(value, dict) and "__expr__" in value:
        return Expr(value["__expr__"])
    return value


def parse_literal(text: str):
    """Parse a ClassAd literal; anything else stays an expression."""
    t = text.strip()
    if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
        body = t[1:-1]
        if '"' not in body.replace('\\"', ""):
            return body.replace('\\"', '"').replace("\\\\", "\\")
    if t.lower() == "true":
        return True
    if t.lower() == "false":
        return False
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", t):
        return float(t)
    return Expr(t)


def _escape_json_string(value: str) -> str:
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0 < ord(ch) < 32:
            out.append("\\u00%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def _format_real(value: float) -> str:
    if value == 0.0:
        return "%.1f" % value
    text = "%.16G" % value
    if not re.search(r"[.Ee]", text):
        text += ".0"
    return text


def json_value(value) -> str:
    """ClassAdJsonUnParser::Unparse for the value kinds the stand-in stores."""
    if isinstance(value, Expr):
        return '"\\/Expr(' + _escape_json_string(value.text) + ')\\/"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_real(value)
    if value is None:
        return "null"
    return '"' + _escape_json_string(str(value)) + '"'


def old_value(value) -> str:
    """Old-ClassAd unparse (condor_q -long, -af:V)."""
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_real(value)
    if value is None:
        return "undefined"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def plain_value(value) -> str:
    """%v formatting of -af: strings without quotes."""
    if value is None:
        return "undefined"
    if isinstance(value, str):
        return value
    return old_value(value)


def sorted_attrs(ad: dict, projection=None) -> list:
    names = list(ad)
    if projection is not None:
        wanted = {p.lower() for p in projection}
        names = [n for n in names if n.lower() in wanted]
    return sorted(names, key=str.lower)


def json_ad(ad: dict, projection=None) -> str:
    names = sorted_attrs(ad, projection)
    if not names:
        return "{\n}"
    parts = [f'\n  "{_escape_json_string(n)}": {json_value(ad[n])}' for n in names]
    return "{" + ",".join(parts) + "\n}"


def json_ad_oneline(ad: dict, projection=None) -> str:
    names = sorted_attrs(ad, projection)
    return "{" + ",".join(f'"{_escape_json_string(n)}": {json_value(ad[n])}' for n in names) + "}"


def lookup(ad: dict, name: str):
    lname = name.lower()
    for key, value in ad.items():
        if key.lower() == lname:
            return value
    return None


# ================================================== minimal ClassAd expression engine

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.\d*|\.\d+|\d+)|(?P<str>\"(?:[^\"\\]|\\.)*\")|"
    r"(?P<op>=\?=|=!=|==|!=|<=|>=|&&|\|\||[<>!()+\-*/])|(?P<name>[A-Za-z_][A-Za-z0-9_.]*))"
)
UNDEF = object()


class ConstraintError(ValueError):
    pass


def _tokenize(text: str) -> list:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConstraintError(text)
        pos = m.end()
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
    return tokens


class _Parser:
    PREC = {
        "||": 1,
        "&&": 2,
        "==": 3,
        "!=": 3,
        "=?=": 3,
        "=!=": 3,
        "<": 4,
        ">": 4,
        "<=": 4,
        ">=": 4,
        "+": 5,
        "-": 5,
        "*": 6,
        "/": 6,
    }

    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        node = self.expr(0)
        if self.i != len(self.tokens):
            raise ConstraintError("trailing tokens")
        return node

    def expr(self, min_prec):
        left = self.unary()
        while True:
            kind, val = self.peek()
            if kind != "op" or val not in self.PREC or self.PREC[val] < min_prec:
                return left
            self.take()
            right = self.expr(self.PREC[val] + 1)
            left = ("bin", val, left, right)

    def unary(self):
        kind, val = self.take()
        if kind == "op" and val == "!":
            return ("not", self.unary())
        if kind == "op" and val == "-":
            return ("neg", self.unary())
        if kind == "op" and val == "(":
            node = self.expr(0)
            if self.take() != ("op", ")"):
                raise ConstraintError("missing )")
            return node
        if kind == "num":
            return ("lit", float(val) if "." in val else int(val))
        if kind == "str":
            return ("lit", json.loads(val))
        if kind == "name":
            low = val.lower()
            if low == "true":
                return ("lit", True)
            if low == "false":
                return ("lit", False)
            if low == "undefined":
                return ("lit", UNDEF)
            if self.peek() == ("op", "("):  # a function call; the stand-in knows time()
                self.take()
                if self.take() != ("op", ")") or low != "time":
                    raise ConstraintError(f"unsupported function {val}")
                return ("call", low)
            if low.startswith("my."):
                val = val[3:]
            return ("attr", val)
        raise ConstraintError("unexpected token")


def _eval(node, ad, depth=0):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "attr":
        value = lookup(ad, node[1])
        if value is None:
            return UNDEF
        if isinstance(value, Expr):  # an attribute bound to an expression: evaluate it in the same ad
            if depth > 20:
                return UNDEF
            try:
                return _eval(_Parser(value.text).parse(), ad, depth + 1)
            except ConstraintError:
                return UNDEF
        return value
    if kind == "call":
        return int(time.time()) if node[1] == "time" else UNDEF
    if kind == "not":
        v = _eval(node[1], ad, depth)
        return UNDEF if v is UNDEF else (not v)
    if kind == "neg":
        v = _eval(node[1], ad, depth)
        return UNDEF if v is UNDEF else -v
    op, a, b = node[1], _eval(node[2], ad, depth), _eval(node[3], ad, depth)
    if op == "&&":
        if a is False or b is False:
            return False
        return UNDEF if (a is UNDEF or b is UNDEF) else bool(a and b)
    if op == "||":
        if a is True or b is True:
            return True
        return UNDEF if (a is UNDEF or b is UNDEF) else bool(a or b)
    if op in ("=?=", "=!="):
        same = type(a) is type(b) and a == b if a is not UNDEF and b is not UNDEF else (a is b)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            same = a == b
        return same if op == "=?=" else not same
    if a is UNDEF or b is UNDEF:
        return UNDEF
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()
    try:
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        if op == ">=":
            return a >= b
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            both_int = isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool)
            return int(a / b) if both_int else a / b
    except TypeError:
        return UNDEF
    return UNDEF


def compile_constraint(text: str):
    tree = _Parser(text).parse()
    return lambda ad: _eval(tree, ad) is True


# ========================================================================= state


def load_ad(job: dict) -> dict:
    return {k: decode_value(v) for k, v in job["ad"].items()}


def store_ad(job: dict, ad: dict) -> None:
    job["ad"] = {k: encode_value(v) for k, v in ad.items()}


def set_attrs(job: dict, **attrs) -> None:
    ad = load_ad(job)
    for key, value in attrs.items():
        if value is None:
            ad.pop(key, None)
        else:
            ad[key] = value
    store_ad(job, ad)


def set_status(job: dict, status: int) -> None:
    ad = load_ad(job)
    if ad.get("JobStatus") != status:
        ad["LastJobStatus"] = ad.get("JobStatus", 0)
        ad["JobStatus"] = status
        ad["EnteredCurrentStatus"] = int(time.time())
    store_ad(job, ad)


def leave_queue(job: dict) -> None:
    job["in_queue"] = False
    job["left_queue"] = time.time()


def job_key(job_id: str):
    cluster, proc = job_id.split(".")
    return int(cluster), int(proc)


# ======================================================================= user log


def _log_time() -> str:
    return time.strftime("%m/%d %H:%M:%S")


def write_event(job: dict, code: int, text: str, extra: str = "") -> None:
    ad = load_ad(job)
    path = ad.get("UserLog")
    if not path:
        return
    cluster, proc = ad["ClusterId"], ad["ProcId"]
    event = "%03d (%03d.%03d.000) %s %s\n%s...\n" % (code, cluster, proc, _log_time(), text, extra)
    try:
        with open(path, "a") as handle:
            handle.write(event)
    except OSError:
        pass


# ================================================================= submit parsing


class SubmitError(Exception):
    """Carries the exact stderr text and exit code of a failing condor_submit."""

    def __init__(self, text: str, code: int = 1):
        super().__init__(text)
        self.text = text
        self.code = code


class QueueStatement:
    def __init__(self, count, variables, items, line):
        self.count = count
        self.variables = variables
        self.items = items
        self.line = line


def _join_continuations(lines):
    out, buf, start = [], "", None
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\n").rstrip("\r")
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1]
            continue
        out.append((start, buf + line))
        buf, start = "", None
    if buf:
        out.append((start, buf))
    return out


_QUEUE_RE = re.compile(r"^\s*queue\b(.*)$", re.IGNORECASE)


def _split_items(text: str) -> list:
    return [i for i in re.split(r"[,\s]+", text.strip()) if i]


def _parse_queue_args(args: str, lines_iter, iwd: str, line_no: int, expand):
    """Return (count, vars, items) for the text after ``queue``."""
    args = expand(args.strip())
    count = 1
    m = re.match(r"^(\d+)\b\s*(.*)$", args, re.S)
    if m:
        count = int(m.group(1))
        args = m.group(2)
    if not args:
        return count, [], None
    m = re.match(r"^(.*?)\b(in|from|matching)\b\s*(.*)$", args, re.IGNORECASE | re.S)
    if not m:
        raise SubmitError(f"\nERROR: on Line {line_no} of submit file: invalid Queue statement '{args}'\n")
    var_text, keyword, rest = m.group(1), m.group(2).lower(), m.group(3)
    variables = [v for v in re.split(r"[,\s]+", var_text.strip()) if v] or ["Item"]
    body = None
    if rest.lstrip().startswith("("):
        body = rest.lstrip()[1:]
        while ")" not in body:
            try:
                _, nxt = next(lines_iter)
            except StopIteration as exc:
                raise SubmitError(
                    f"\nERROR: on Line {line_no} of submit file: Reached end of file without finding closing brace ')' for Queue command on line {line_no}\n"  # noqa: E501
                ) from exc
            body += "\n" + nxt
        body = body[: body.rindex(")")]
    if keyword == "in":
        items = _split_items(body if body is not None else rest)
    elif keyword == "matching":
        patterns = _split_items(body if body is not None else rest)
        items = []
        for pattern in patterns:
            if pattern.lower() in ("files", "dirs", "any"):
                continue
            items.extend(
                sorted(
                    os.path.basename(p) if not os.path.isabs(pattern) else p
                    for p in glob.glob(os.path.join(iwd, pattern))
                )
            )
    else:  # from
        if body is not None:
            items = [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]
        else:
            path = rest.strip()
            path = path if os.path.isabs(path) else os.path.join(iwd, path)
            try:
                with open(path) as handle:
                    items = [line.strip() for line in handle if line.strip()]
            except OSError as exc:
                raise SubmitError(
                    f"\nERROR: on Line {line_no} of submit file: Failed to open '{rest.strip()}': {exc.strerror}\n"
                ) from exc
    return count, variables, items


class SubmitDescription:
    """Keys (case-insensitive) and queue statements of a submit description."""

    def __init__(self):
        self.keys = {}  # lower -> (original key, raw value)
        self.order = []
        self.used = set()
        self.blocks = []  # (snapshot of keys, QueueStatement)

    def set(self, key, value):
        low = key.lower()
        if low not in self.keys:
            self.order.append(low)
        self.keys[low] = (key, value)


def parse_submit(text: str, filename: str, iwd: str, cmdline_vars: dict, append_lines: list):
    desc = SubmitDescription()
    for k, v in cmdline_vars.items():
        desc.set(k, v)
    lines = _join_continuations(text.splitlines())
    it = iter(lines)
    got_queue = False
    for line_no, line in it:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _QUEUE_RE.match(stripped)
        if m:
            for extra in append_lines:
                _assign(desc, extra, line_no)
            snapshot = dict(desc.keys)

            def expand(value, _snap=snapshot):
                return expand_macros(value, _snap, {}, desc.used)

            count, variables, items = _parse_queue_args(m.group(1), it, iwd, line_no, expand)
            desc.blocks.append((snapshot, QueueStatement(count, variables, items, line_no)))
            got_queue = True
            continue
        _assign(desc, stripped, line_no)
    if not got_queue:
        for extra in append_lines:
            _assign(desc, extra, 0)
        desc.blocks.append((dict(desc.keys), QueueStatement(1, [], None, 0)))
    return desc


def _assign(desc, line, line_no):
    if "=" not in line:
        raise SubmitError(f"\nERROR: on Line {line_no} of submit file: Macro is missing '=' \n")
    key, _, value = line.partition("=")
    key = key.strip()
    if key.startswith("+"):
        key = "MY." + key[1:]
    desc.set(key, value.strip())


_MACRO = re.compile(r"\$(ENV|RANDOM_CHOICE|RANDOM_INTEGER|INT|REAL|BASENAME|DIRNAME|F[a-zA-Z]*)?\(([^()$]*)\)")


def expand_macros(value: str, keys: dict, live: dict, used: set, depth: int = 0) -> str:
    if depth > 20 or "$" not in value:
        return value

    def repl(m):
        func, body = m.group(1), m.group(2)
        start = m.start()
        if start > 0 and value[start - 1] == "$":
            return m.group(0)  # $$(...) is for the starter, keep it
        name, _, default = body.partition(":")
        name = name.strip()
        if func == "ENV":
            return os.environ.get(name, default)
        low = name.lower()
        if low in live:
            result = live[low]
        elif low in keys:
            used.add(low)
            result = expand_macros(keys[low][1], keys, live, used, depth + 1)
        else:
            result = default
        if func and func.startswith("F"):
            flags = func[1:].lower()
            if "n" in flags and "x" in flags:
                result = os.path.basename(result)
            elif "n" in flags:
                result = os.path.splitext(os.path.basename(result))[0]
            elif "x" in flags:
                result = os.path.splitext(result)[1]
            elif "d" in flags or "p" in flags:
                result = os.path.dirname(result) + ("/" if os.path.dirname(result) else "")
        return str(result)

    new = _MACRO.sub(repl, value)
    return expand_macros(new, keys, live, used, depth + 1) if new != value else new


def parse_arguments(text: str):
    """HTCondor argument syntax -> (argv list, Arguments attribute)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':  # new syntax
        body = text[1:-1].replace('""', '"')
        args, cur, in_arg, i = [], "", False, 0
        while i < len(body):
            ch = body[i]
            if ch == "'":
                in_arg = True
                i += 1
                while i < len(body):
                    if body[i] == "'":
                        if i + 1 < len(body) and body[i + 1] == "'":
                            cur += "'"
                            i += 2
                            continue
                        break
                    cur += body[i]
                    i += 1
                i += 1
                continue
            if ch.isspace():
                if in_arg or cur:
                    args.append(cur)
                cur, in_arg = "", False
            else:
                cur += ch
                in_arg = True
            i += 1
        if in_arg or cur:
            args.append(cur)
    else:  # old syntax: whitespace separated, \" is a literal quote
        args = [a.replace('\\"', '"') for a in text.split()]
    joined = " ".join(("'" + a.replace("'", "''") + "'") if (not a or re.search(r"[\s']", a)) else a for a in args)
    return args, joined


def parse_environment(text: str) -> dict:
    text = text.strip()
    env = {}
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        args, _ = parse_arguments(text)
        for item in args:
            key, _, val = item.partition("=")
            if key:
                env[key] = val
    else:
        for item in re.split(r"[;|]", text):
            key, _, val = item.strip().partition("=")
            if key:
                env[key] = val
    return env


def parse_memory(text: str, default_unit: str = "M") -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(text)
    number, unit = float(m.group(1)), (m.group(2) or default_unit).upper()
    factor = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[unit]
    return int(number * factor + 0.999999)


def _bool(text) -> bool:
    return str(text).strip().lower() in ("true", "yes", "1", "t", "y")


# ==================================================================== condor_submit


def _submit_usage():
    _err("Usage: condor_submit [options] [<attrib>=<value>] [- | <submit-file>]\n")
    _err("    [options] are\n")
    _err("\t(the b2core stand-in prints only the start of the real usage text)\n")


def _dash_prefix(arg: str, word: str, min_len: int) -> bool:
    name = arg.lstrip("-")
    if not arg.startswith("-") or len(arg) - len(name) > 2 or not name:
        return False
    return word.startswith(name) and len(name) >= min_len


def submit_main(argv) -> int:
    terse = False
    cmd_file = None
    batch_name = None
    cmdline_vars, append_lines = {}, []
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-":
            cmd_file = "-"
        elif arg.startswith("-"):
            if _dash_prefix(arg, "terse", 3):
                terse = True
            elif _dash_prefix(arg, "verbose", 1):
                terse = False
            elif _dash_prefix(arg, "batch-name", 1):
                if i + 1 >= len(args):
                    _err("condor_submit: -batch-name requires another argument\n")
                    return 1
                i += 1
                batch_name = args[i]
            elif _dash_prefix(arg, "append", 1):
                if i + 1 >= len(args):
                    _err("condor_submit: -append requires another argument\n")
                    return 1
                i += 1
                append_lines.append(args[i])
            elif _dash_prefix(arg, "file", 2):
                if i + 1 >= len(args):
                    _err("condor_submit: -file requires another argument\n")
                    return 1
                i += 1
                cmd_file = args[i]
            elif _dash_prefix(arg, "disable", 3) or _dash_prefix(arg, "unused", 1):
                pass
            elif _dash_prefix(arg, "name", 1) or _dash_prefix(arg, "pool", 2):
                if i + 1 >= len(args):
                    _err(f"condor_submit: {arg} requires another argument\n")
                    return 1
                i += 1
            else:
                _submit_usage()
                return 1
        elif "=" in arg:
            key, _, value = arg.partition("=")
            key = key.strip()
            if key.startswith("+"):
                key = "MY." + key[1:]
            cmdline_vars[key] = value.strip()
        else:
            cmd_file = arg
        i += 1
    if batch_name is not None:
        quoted = batch_name if batch_name.startswith('"') else f'"{batch_name}"'
        append_lines.append(f"MY.JobBatchName = {quoted}")

    if cmd_file in (None, "-"):
        text, filename = sys.stdin.read(), "(stdin)"
    else:
        filename = cmd_file
        try:
            with open(cmd_file) as handle:
                text = handle.read()
        except OSError as exc:
            _err(f"\nERROR: Failed to open command file ({cmd_file}) ({exc.strerror})\n")
            return 1
    if standin_queue.should_fail("condor_submit"):
        if not terse:
            _out("Submitting job(s)")
        _err(f"\nERROR: Failed to connect to local queue manager\n{daemon_down_error()}\n")
        return 1
    if not terse and cmd_file not in (None, "-"):
        _out("Submitting job(s)")
    submit_cwd = os.getcwd()
    show_dots = not terse and cmd_file not in (None, "-")
    try:
        desc, specs, warnings = build_jobs(text, filename, submit_cwd, cmdline_vars, append_lines)
        clusters = []
        with standin_queue.Queue(SYSTEM, per_job=True) as q:
            for spec in specs:
                if not clusters or spec["new_cluster"]:
                    clusters.append([q.next_id(1000, 9999), 0])
                cluster, proc = clusters[-1]
                clusters[-1][1] += 1
                create_job(q, cluster, proc, spec, desc.used)
    except SubmitError as exc:
        _err(exc.text)
        return exc.code
    if show_dots:
        _out("." * len(specs))
    for cluster, count in clusters:
        for proc in range(count):
            standin_queue.spawn_monitor(__file__, SYSTEM, f"{cluster}.{proc}")
    if show_dots:
        _out("\n")
    if terse:
        for cluster, count in clusters:
            _out(f"{cluster}.0 - {cluster}.{count - 1}\n")
    else:
        for cluster, count in clusters:
            _out(f"{count} job(s) submitted to cluster {cluster}.\n")
    for warning in warnings + unused_warnings(desc):
        _err(warning)
    standin_queue.kill_submitter_once()
    return 0


def build_jobs(text, filename, submit_cwd, cmdline_vars, append_lines):
    """Parse the description; return (description, per-proc specs, warnings)."""
    desc = parse_submit(text, filename, submit_cwd, cmdline_vars, append_lines)
    warnings = []
    specs = []
    previous_exe = object()
    for keys, stmt in desc.blocks:
        items = stmt.items if stmt.items is not None else [None]
        exe_raw = (keys.get("executable") or keys.get("cmd") or (None, None))[1]
        first_in_block = True
        for item_index, item in enumerate(items):
            for step in range(stmt.count):
                live = {"step": str(step), "itemindex": str(item_index), "row": str(item_index)}
                if item is not None:
                    _set_item_vars(live, stmt.variables, item)
                specs.append(
                    {
                        "keys": keys,
                        "live": live,
                        "submit_cwd": submit_cwd,
                        "new_cluster": first_in_block and exe_raw != previous_exe,
                    }
                )
                first_in_block = False
        previous_exe = exe_raw
    if len(desc.blocks) > 1:
        warnings.append(
            "\nWarning: Use of multiple queue statements in a single submit file is deprecated."
            "\n         This functionality will be removed in the 25.x feature series. To see"
            "\n         how multiple queue statements can be converted into one visit:"
            "\nhttps://htcondor.readthedocs.io/en/latest/auto-redirect.html?category=example&tag="
            "convert-multi-queue-statements\n"
        )
    return desc, specs, warnings


def unused_warnings(desc) -> list:
    unused = [
        desc.keys[k]
        for k in desc.order
        if k not in desc.used and k not in KNOWN_SUBMIT_KEYS and not k.startswith("my.")
    ]
    return [
        f"\nWARNING: the line '{key} = {value}' was unused by condor_submit. Is it a typo?\n" for key, value in unused
    ]


def _set_item_vars(live, variables, item):
    if len(variables) == 1:
        live[variables[0].lower()] = item
        return
    rest = item
    for index, var in enumerate(variables):
        if index == len(variables) - 1:
            live[var.lower()] = rest.strip()
            break
        m = re.match(r"^([^,\s]*)[,\s]*(.*)$", rest, re.S)
        live[var.lower()] = m.group(1)
        rest = m.group(2)


def create_job(q, cluster: int, proc: int, spec: dict, used: set) -> None:
    keys = spec["keys"]
    live = dict(spec["live"])
    live.update(
        {"cluster": str(cluster), "clusterid": str(cluster), "process": str(proc), "procid": str(proc), "node": ""}
    )

    def get(name, default=None):
        low = name.lower()
        if low not in keys:
            return default
        return expand_macros(keys[low][1], keys, live, used)

    submit_cwd = spec["submit_cwd"]
    iwd = get("initialdir") or get("initial_dir") or submit_cwd
    iwd = os.path.normpath(os.path.join(submit_cwd, os.path.expanduser(iwd)))
    exe = get("executable") or get("cmd")
    if not exe:
        raise SubmitError("\nERROR: Executable file  is a directory\n")
    exe_path = os.path.normpath(os.path.join(iwd, os.path.expanduser(exe)))
    if not os.path.exists(exe_path) and _bool(get("transfer_executable", "true")):
        raise SubmitError(f"\nERROR: Can't access executable file {exe_path}: No such file or directory\n")
    if os.path.exists(exe_path) and os.path.getsize(exe_path) == 0:
        raise SubmitError(f"\nERROR: Executable file {exe_path} has zero length\n")
    universe_name = (get("universe") or "vanilla").strip().lower()
    if universe_name not in UNIVERSES:
        raise SubmitError(f"\nERROR: I don't know about the '{universe_name}' universe.\n")
    now = int(time.time())
    owner = standin_queue.username()
    ad = {
        "ClusterId": cluster,
        "ProcId": proc,
        "JobStatus": 1,
        "LastJobStatus": 0,
        "EnteredCurrentStatus": now,
        "QDate": now,
        "Owner": owner,
        "User": f"{owner}@{standin_queue.hostname()}",
        "Iwd": iwd,
        "Cmd": exe_path,
        "JobUniverse": UNIVERSES[universe_name],
        "JobPrio": int(get("priority", "0") or 0),
        "NumJobStarts": 0,
        "RequestCpus": int(get("request_cpus", "1") or 1),
        "RequestDisk": Expr("DiskUsage"),
        "ImageSize": 0,
        "GlobalJobId": f"{standin_queue.hostname()}#{cluster}.{proc}#{now}",
        "Out": get("output") or "/dev/null",
        "Err": get("error") or "/dev/null",
        "In": get("input") or "/dev/null",
        "ShouldTransferFiles": (get("should_transfer_files") or "IF_NEEDED").upper(),
        "WhenToTransferOutput": (get("when_to_transfer_output") or "ON_EXIT").upper(),
        "MyType": "Job",
        "MemoryUsage": Expr("((ResidentSetSize + 1023) / 1024)"),
        "ResidentSetSize": 0,
    }
    memory = get("request_memory")
    if memory:
        try:
            ad["RequestMemory"] = parse_memory(memory)
        except ValueError:
            ad["RequestMemory"] = Expr(memory)
    disk = get("request_disk")
    if disk:
        try:
            ad["RequestDisk"] = parse_memory(disk, "K") * 1024 if re.search(r"[a-zA-Z]", disk) else int(disk)
        except ValueError:
            ad["RequestDisk"] = Expr(disk)
    arguments = get("arguments") or get("args")
    argv_list = []
    if arguments:
        argv_list, ad["Arguments"] = parse_arguments(arguments)
    log = get("log")
    if log:
        ad["UserLog"] = os.path.normpath(os.path.join(iwd, log))
    env_text = get("environment") or get("env")
    if env_text:
        ad["Environment"] = " ".join(f"{k}={v}" for k, v in parse_environment(env_text).items())
    getenv = get("getenv")
    if getenv:
        ad["GetEnv"] = _bool(getenv) if getenv.strip().lower() in ("true", "false", "yes", "no") else getenv
    tif = get("transfer_input_files")
    if tif:
        ad["TransferInput"] = tif
    tof = get("transfer_output_files")
    if tof is not None:
        ad["TransferOutput"] = tof
    batch = get("batch_name") or get("jobbatchname")
    if batch:
        ad["JobBatchName"] = parse_literal(batch) if batch.startswith('"') else batch
    for low in keys:
        if low.startswith("my."):
            attr = keys[low][0][3:]
            ad[attr] = parse_literal(get(low))
    for low, attr in POLICY_ATTRS.items():
        value = get(low)
        if value:
            ad[attr] = Expr(value)
    job = {
        "in_queue": True,
        "argv": argv_list,
        "env_text": env_text or "",
        "getenv": getenv or "false",
        "submit_env": dict(os.environ),
        "memory_limit": os.environ.get("B2CORE_STANDIN_CONDOR_MEMORY_LIMIT", "").strip().lower() == "hard",
    }
    store_ad(job, ad)
    standin_queue.new_run(job, float(os.environ.get("B2CORE_STANDIN_START_DELAY", "0") or 0))
    q.jobs[f"{cluster}.{proc}"] = job
    write_event(job, 0, f"Job submitted from host: {schedd_address()}")


# ===================================================================== job monitor


def _job_env(job, ad, scratch):
    getenv = str(job.get("getenv", "false")).strip()
    if getenv.lower() in ("true", "yes", "1", "t"):
        env = dict(job["submit_env"])
    elif getenv.lower() in ("false", "no", "0", "f", ""):
        env = {}
    else:  # list of variable names / patterns
        env = {}
        for pattern in re.split(r"[,\s]+", getenv):
            for key, value in job["submit_env"].items():
                if pattern and re.fullmatch(pattern.replace("*", ".*"), key):
                    env[key] = value
    env.update(parse_environment(job.get("env_text") or "") if job.get("env_text") else {})
    cpus = str(ad.get("RequestCpus", 1))
    env.update(
        {
            "_CONDOR_SCRATCH_DIR": scratch,
            "_CONDOR_SLOT": "slot1_1",
            "_CONDOR_JOB_IWD": ad["Iwd"],
            "_CONDOR_JOB_AD": os.path.join(scratch, ".job.ad"),
            "_CONDOR_MACHINE_AD": os.path.join(scratch, ".machine.ad"),
            "_CONDOR_AssignedCPUs": "0",
            "BATCH_SYSTEM": "HTCondor",
            "TMPDIR": scratch,
            "TMP": scratch,
            "TEMP": scratch,
            "OMP_NUM_THREADS": cpus,
            "MKL_NUM_THREADS": cpus,
            "CUBACORES": cpus,
            "JULIA_NUM_THREADS": cpus,
        }
    )
    return env


def _transfer(ad) -> bool:
    return str(ad.get("ShouldTransferFiles", "IF_NEEDED")).upper() == "YES"


def _abs(ad, path):
    return os.path.normpath(os.path.join(ad["Iwd"], path))


def _prepare(job):
    ad = load_ad(job)
    scratch = os.path.join(
        str(standin_queue.system_dir(SYSTEM)),
        "execute",
        "dir_%d_%d_%d" % (ad["ClusterId"], ad["ProcId"], ad.get("NumJobStarts", 0)),
    )
    if os.path.isdir(scratch):
        shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    with open(os.path.join(scratch, ".job.ad"), "w") as handle:
        for name in sorted_attrs(ad):
            handle.write(f"{name} = {old_value(ad[name])}\n")
    with open(os.path.join(scratch, ".machine.ad"), "w") as handle:
        handle.write(f'Machine = "{standin_queue.hostname()}"\nName = "slot1_1@{standin_queue.hostname()}"\n')
    job["scratch"] = scratch
    exe = ad["Cmd"]
    if _transfer(ad):
        inputs = [exe] + [p.strip() for p in str(ad.get("TransferInput", "")).split(",") if p.strip()]
        for index, item in enumerate(inputs):
            source = _abs(ad, item)
            if index == 0:
                target = os.path.join(scratch, "condor_exec.exe")
                if os.path.exists(source):
                    shutil.copy2(source, target)
                exe = target
                continue
            if os.path.isdir(source):
                if item.endswith("/"):
                    shutil.copytree(source, scratch, dirs_exist_ok=True)
                else:
                    shutil.copytree(source, os.path.join(scratch, os.path.basename(source)))
            elif os.path.exists(source):
                shutil.copy2(source, os.path.join(scratch, os.path.basename(source)))
        job["scratch_snapshot"] = {n: os.path.getmtime(os.path.join(scratch, n)) for n in os.listdir(scratch)}
        stdout = os.path.join(scratch, "_condor_stdout")
        stderr = os.path.join(scratch, "_condor_stderr")
        cwd = scratch
    else:
        stdout = _abs(ad, ad["Out"]) if ad.get("Out") else None
        stderr = _abs(ad, ad["Err"]) if ad.get("Err") else None
        cwd = ad["Iwd"]
    stdin = _abs(ad, ad["In"]) if ad.get("In") and ad["In"] != "/dev/null" else None
    env = _job_env(job, ad, scratch)
    job["exec_path"] = exe
    return standin_queue.RunSpec([exe, *job.get("argv", [])], cwd, env, stdout=stdout, stderr=stderr, stdin=stdin)


def _on_start(job):
    ad = load_ad(job)
    now = int(time.time())
    ad["NumJobStarts"] = ad.get("NumJobStarts", 0) + 1
    ad["JobStartDate"] = ad.get("JobStartDate", now)
    ad["JobCurrentStartDate"] = now
    ad["RemoteHost"] = f"slot1_1@{standin_queue.hostname()}"
    store_ad(job, ad)
    set_status(job, 2)
    write_event(job, 1, f"Job executing on host: {schedd_address()}")


def _on_exec_error(job, exc):
    ad = load_ad(job)
    code = exc.errno or 2
    path = job.get("exec_path") or ad["Cmd"]
    host = standin_queue.hostname()
    reason = f"Error from slot1_1@{host}: Failed to execute '{path}': (errno={code}: '{os.strerror(code)}')"
    ad.update({"HoldReason": reason, "HoldReasonCode": 6, "HoldReasonSubCode": code})
    store_ad(job, ad)
    set_status(job, 5)
    write_event(job, 12, "Job was held.", f"\t{reason}\n\tCode 6 Subcode {code}\n")


def _transfer_back(job, ad):
    scratch = job.get("scratch")
    if not scratch or not os.path.isdir(scratch):
        return
    for name, target in (("_condor_stdout", ad.get("Out")), ("_condor_stderr", ad.get("Err"))):
        source = os.path.join(scratch, name)
        if target and target != "/dev/null" and os.path.exists(source):
            shutil.copyfile(source, _abs(ad, target))
    snapshot = job.get("scratch_snapshot", {})
    wanted = ad.get("TransferOutput")
    names = (
        [n.strip() for n in str(wanted).split(",") if n.strip()] if wanted is not None else sorted(os.listdir(scratch))
    )
    skip = {"_condor_stdout", "_condor_stderr", "condor_exec.exe", ".job.ad", ".machine.ad", ".chirp.config"}
    for name in names:
        source = os.path.join(scratch, name)
        if name in skip or not os.path.exists(source):
            continue
        if wanted is None and name in snapshot and os.path.getmtime(source) == snapshot[name]:
            continue
        target = os.path.join(ad["Iwd"], os.path.basename(name))
        if os.path.isdir(source):
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def _on_exit(job, returncode):
    ad = load_ad(job)
    now = int(time.time())
    if _transfer(ad):
        _transfer_back(job, ad)
    ad["CompletionDate"] = now
    ad["RemoteWallClockTime"] = float(now - ad.get("JobCurrentStartDate", now))
    if returncode >= 0:
        ad.update({"ExitCode": returncode, "ExitBySignal": False, "ExitStatus": returncode})
        ad.pop("ExitSignal", None)
        detail = f"\t(1) Normal termination (return value {returncode})\n"
    else:
        ad.update({"ExitBySignal": True, "ExitSignal": -returncode, "ExitStatus": -returncode})
        ad.pop("ExitCode", None)
        detail = f"\t(0) Abnormal termination (signal {-returncode})\n"
    store_ad(job, ad)
    set_status(job, 4)
    write_event(job, 5, "Job terminated.", detail)
    leave_queue(job)
    shutil.rmtree(job.get("scratch") or "/nonexistent", ignore_errors=True)


def _group_rss_kib(pgid: int) -> int:
    """Resident memory of the job's process group in KiB (what the starter reports as ResidentSetSize)."""
    total, page_kib = 0, os.sysconf("SC_PAGE_SIZE") // 1024
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 21 and int(fields[2]) == pgid:
            total += int(fields[21]) * page_kib
    return total


def _policy_true(ad, attr) -> bool:
    value = ad.get(attr)
    if isinstance(value, Expr):
        try:
            return _eval(_Parser(value.text).parse(), ad) is True
        except ConstraintError:
            return False
    return value is True


def _hold_by_policy(job, ad, reason, code, subcode) -> None:
    """What the schedd (periodic_hold) or the starter (memory limit) does: kill the job, keep it held."""
    standin_queue.kill_run(job, (signal.SIGKILL,), grace=0.5)
    job["_run"]["state"] = "held"
    ad.update({"HoldReason": reason, "HoldReasonCode": code, "HoldReasonSubCode": subcode})
    store_ad(job, ad)
    set_status(job, 5)
    write_event(job, 12, "Job was held.", f"\t{reason}\n\tCode {code} Subcode {subcode}\n")


def _while_running(job, pid):
    """Every policy interval: measure memory, enforce the memory limit, evaluate periodic_hold/_remove."""
    ad = load_ad(job)
    watch = job.get("memory_limit") or any(a in ad for a in ("PeriodicHold", "PeriodicRemove"))
    if not watch:
        return False  # nothing to enforce for this job: stop calling
    rss = _group_rss_kib(pid)
    ad["ResidentSetSize"] = max(int(ad.get("ResidentSetSize") or 0), rss)
    store_ad(job, ad)
    usage_mb = (rss + 1023) // 1024
    limit = ad.get("RequestMemory")
    if job.get("memory_limit") and isinstance(limit, int) and usage_mb > limit:
        host = standin_queue.hostname()
        reason = (
            f"Error from slot1_1@{host}: Job has gone over cgroup memory limit of {limit} megabytes. "
            f"Last measured usage: {usage_mb} megabytes.  Consider resubmitting with a higher request_memory."
        )
        _hold_by_policy(job, ad, reason, 34, 0)
        return True
    if _policy_true(ad, "PeriodicHold"):
        reason = ad.get("PeriodicHoldReason")
        if isinstance(reason, Expr):
            try:
                reason = _eval(_Parser(reason.text).parse(), ad)
            except ConstraintError:
                reason = None
        if not isinstance(reason, str) or not reason:
            reason = f"The job attribute PeriodicHold expression '{ad['PeriodicHold'].text}' evaluated to TRUE"
        subcode = ad.get("PeriodicHoldSubCode")
        if isinstance(subcode, Expr):
            try:
                subcode = _eval(_Parser(subcode.text).parse(), ad)
            except ConstraintError:
                subcode = 0
        _hold_by_policy(job, ad, reason, 3, subcode if isinstance(subcode, int) else 0)
        return True
    if _policy_true(ad, "PeriodicRemove"):
        standin_queue.kill_run(job, (signal.SIGTERM, signal.SIGKILL), grace=0.5)
        job["_run"]["state"] = "removed"
        reason = f"The job attribute PeriodicRemove expression '{ad['PeriodicRemove'].text}' evaluated to TRUE"
        ad["RemoveReason"] = reason
        store_ad(job, ad)
        set_status(job, 3)
        write_event(job, 9, "Job was aborted.", f"\t{reason}\n")
        leave_queue(job)
    return True


#: seconds between policy evaluations of a running job (the real schedd: PERIODIC_EXPR_INTERVAL, 60 s)
POLICY_INTERVAL = float(os.environ.get("B2CORE_STANDIN_CONDOR_POLICY_INTERVAL", "0.5") or 0.5)
HANDLERS = {SYSTEM: (_prepare, _on_start, _on_exec_error, _on_exit, _while_running, POLICY_INTERVAL)}


# ============================================================ selecting jobs for queries


class QueryArgs:
    def __init__(self):
        self.json = False
        self.long = False
        self.attributes = None
        self.constraints = []
        self.ids = []
        self.owners = []
        self.af = None
        self.af_opts = ""
        self.formats = []
        self.batch = True
        self.limit = None
        self.totals = False
        self.jsonl = False


def _matches(ad, qa, constraint_fns) -> bool:
    if qa.ids or qa.owners:
        ok = False
        for ident in qa.ids:
            if "." in ident:
                c, p = ident.split(".", 1)
                ok = ok or (ad.get("ClusterId") == int(c) and ad.get("ProcId") == int(p))
            else:
                ok = ok or ad.get("ClusterId") == int(ident)
        if qa.owners and not qa.ids:
            ok = True
        if qa.owners and str(ad.get("Owner")) not in qa.owners:
            ok = False
        if not ok:
            return False
    return all(fn(ad) for fn in constraint_fns)


def _print_af(ads, qa):
    opts = qa.af_opts
    sep = "\t" if "t" in opts else " "
    comma = "," in opts
    for ad in ads:
        values = []
        if "j" in opts:
            values.append(f"{ad.get('ClusterId')}.{ad.get('ProcId')}")
        for attr in qa.af:
            value = lookup(ad, attr)
            if value is None:
                try:
                    fn = _Parser(attr).parse()
                    value = _eval(fn, ad)
                    value = None if value is UNDEF else value
                except ConstraintError:
                    value = None
            text = old_value(value) if "V" in opts else plain_value(value)
            if "l" in opts:
                text = f"{attr} = {text}"
            values.append(text + ("," if comma else ""))
        if "n" in opts:
            _out("\n".join(values) + "\n")
        else:
            _out(sep.join(values) + "\n")
        if "g" in opts:
            _out("\n")


def _print_format(ads, formats):
    for ad in ads:
        line = ""
        for fmt, attr in formats:
            value = lookup(ad, attr)
            conv = re.search(r"%[-+ 0#]*\d*(?:\.\d+)?([a-zA-Z])", fmt)
            try:
                if value is None:
                    line += re.sub(r"%[-+ 0#]*\d*(?:\.\d+)?[a-zA-Z]", "undefined", fmt, count=1)
                elif conv and conv.group(1) in "dif":
                    line += fmt % (float(value) if conv.group(1) == "f" else int(value))
                else:
                    line += fmt.replace("%v", "%s").replace("%V", "%s") % plain_value(value)
            except (TypeError, ValueError):
                line += fmt
        _out(line.encode().decode("unicode_escape"))


def _print_long(ads, projection):
    for ad in ads:
        for name in sorted_attrs(ad, projection):
            _out(f"{name} = {old_value(ad[name])}\n")
        _out("\n")


def _print_json(ads, projection, always_brackets=False):
    if not ads:
        if always_brackets:
            _out("[\n]\n")
        return
    out = []
    for index, ad in enumerate(ads):
        out.append(("[\n" if index == 0 else ",\n") + json_ad(ad, projection) + "\n")
    _out("".join(out) + "]\n")


def _fmt_date(epoch) -> str:
    t = time.localtime(epoch or 0)
    return f"{t.tm_mon}/{t.tm_mday} {t.tm_hour:02d}:{t.tm_min:02d}"


def _fmt_runtime(seconds) -> str:
    seconds = int(seconds or 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}+{hours:02d}:{minutes:02d}:{secs:02d}"


def _runtime(ad, now=None) -> int:
    if ad.get("JobStatus") == 2 and ad.get("JobCurrentStartDate"):
        return int(now if now is not None else time.time()) - int(ad["JobCurrentStartDate"])
    return int(ad.get("RemoteWallClockTime") or 0)


def _cmd_text(ad) -> str:
    text = os.path.basename(str(ad.get("Cmd", "")))
    if ad.get("Arguments"):
        text += " " + str(ad["Arguments"])
    return text


def _schedd_banner() -> str:
    stamp = time.strftime("%m/%d/%y %H:%M:%S")
    return f"\n-- Schedd: {standin_queue.hostname()} : <127.0.0.1:{SCHEDD_PORT}?... @ {stamp}\n"


def summary_line(ads) -> str:
    counts = {s: sum(1 for ad in ads if ad.get("JobStatus") == s) for s in range(1, 8)}
    return (
        f"{len(ads)} jobs; {counts[4]} completed, {counts[3]} removed, {counts[1]} idle, "
        f"{counts[2]} running, {counts[5]} held, {counts[7]} suspended\n"
    )


NOBATCH_HEADER = " ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD\n"


def format_nobatch_row(ad, now=None) -> str:
    """One line of ``condor_q -nobatch`` (columns as in the manual's examples)."""
    memory = ad.get("MemoryUsage")
    if isinstance(memory, Expr):
        memory = _eval(("attr", "MemoryUsage"), ad)
    if memory is not None and memory is not UNDEF:
        size = "%.1f" % float(memory)
    else:
        size = "%.1f" % (float(ad.get("ImageSize") or 0) / 1024.0)
    return "%4d.%-3d %-14s %11s %12s %-2s %-3s %4s %s\n" % (
        ad["ClusterId"],
        ad["ProcId"],
        str(ad.get("Owner"))[:14],
        _fmt_date(ad.get("QDate")),
        _fmt_runtime(_runtime(ad, now)),
        STATUS_CHAR.get(ad.get("JobStatus"), "?"),
        ad.get("JobPrio", 0),
        size,
        _cmd_text(ad),
    )


def _print_nobatch(ads):
    lines = [_schedd_banner(), NOBATCH_HEADER]
    lines += [format_nobatch_row(ad) for ad in ads]
    lines.append("\n" + summary_line(ads))
    _out("".join(lines))


def format_batch_table(rows, show_hold) -> str:
    """Header and rows of the default (batch) ``condor_q`` output.  ``rows`` are
    (owner, batch name, submitted, done, run, idle, held, total, job ids)."""
    owner_w = max([5] + [len(str(r[0])) for r in rows])
    name_w = max([10] + [len(r[1]) for r in rows])
    header = f"{'OWNER':<{owner_w}} {'BATCH_NAME':<{name_w}}    SUBMITTED   DONE   RUN    IDLE"
    header += "   HOLD  TOTAL JOB_IDS\n" if show_hold else "  TOTAL JOB_IDS\n"
    lines = [header]
    for owner, name, submitted, done, run, idle, held, total, ids in rows:

        def cell(n):
            return "%6s" % (n if n else "_")

        row = f"{owner!s:<{owner_w}} {name:<{name_w}} {submitted:>12} {cell(done)} {cell(run)} {cell(idle)}"
        if show_hold:
            row += f" {cell(held)}"
        row += " %6s %s\n" % (total if total else "_", ids)
        lines.append(row)
    return "".join(lines)


def _print_batch(ads):
    batches = {}
    for ad in sorted(ads, key=lambda a: (a["ClusterId"], a["ProcId"])):
        name = ad.get("JobBatchName")
        key = (ad.get("Owner"), f"{name}" if name else f"ID: {ad['ClusterId']}")
        batches.setdefault(key, []).append(ad)
    show_hold = not ads or any(ad.get("JobStatus") == 5 for ad in ads)
    rows = []
    for (owner, name), members in batches.items():

        def count(status, _m=members):
            return sum(1 for a in _m if a.get("JobStatus") == status)

        ids = [f"{a['ClusterId']}.{a['ProcId']}" for a in members]
        rows.append(
            (
                owner,
                name,
                _fmt_date(min(a.get("QDate", 0) for a in members)),
                count(4),
                count(2),
                count(1),
                count(5),
                len(members),
                ids[0] if len(ids) == 1 else f"{ids[0]} ... {ids[-1]}",
            )
        )
    _out(_schedd_banner() + format_batch_table(rows, show_hold) + "\n" + summary_line(ads))


def _q_usage():
    _err("Usage: condor_q [general-opts] [restriction-list] [output-opts | analyze-opts]\n")
    _err("\t(the b2core stand-in prints only the start of the real usage text)\n")


def _parse_query_args(tool, argv, qa):
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if not arg.startswith("-"):
            if re.fullmatch(r"\d+(\.\d+)?", arg):
                qa.ids.append(arg)
            else:
                qa.owners.append(arg)
        elif tool == "condor_history" and _dash_prefix(arg, "jsonl", 5):
            qa.jsonl = True
        elif _dash_prefix(arg, "json", 2):
            qa.json = True
        elif _dash_prefix(arg, "long", 1):
            qa.long = True
        elif _dash_prefix(arg, "attributes", 2):
            if nxt is None or nxt.startswith("-"):
                return (
                    "Error: Argument -attributes must be followed by a list of attributes\n"
                    if tool == "condor_history"
                    else "Error: -attributes requires a list of attributes to show\n"
                )
            qa.attributes = [a for a in re.split(r"[,\s]+", nxt) if a]
            i += 1
        elif _dash_prefix(arg, "constraint", 1):
            if nxt is None:
                return f"Error: Argument {arg} requires another parameter\n"
            qa.constraints.append(nxt)
            i += 1
        elif tool == "condor_q" and _dash_prefix(arg, "nobatch", 3):
            qa.batch = False
        elif tool == "condor_q" and _dash_prefix(arg, "batch", 2):
            qa.batch = True
        elif tool == "condor_q" and _dash_prefix(arg, "allusers", 2):
            pass
        elif tool == "condor_q" and _dash_prefix(arg, "totals", 3):
            qa.totals = True
        elif (tool == "condor_history" and (_dash_prefix(arg, "match", 1) or _dash_prefix(arg, "limit", 3))) or (
            tool == "condor_q" and _dash_prefix(arg, "limit", 3)
        ):
            if nxt is None:
                return (
                    f"Error: Argument {arg} requires a number value as a parameter.\n"
                    if tool == "condor_history"
                    else "Error: -limit requires the max number of results as an argument.\n"
                )
            try:
                qa.limit = int(nxt)
            except ValueError:
                qa.limit = 0
            i += 1
        elif re.fullmatch(r"--?(af|autoformat)(:[jlhVr,tng]*)?", arg):
            qa.af_opts = arg.split(":", 1)[1] if ":" in arg else ""
            qa.af = []
            while i + 1 < len(args) and not args[i + 1].startswith("-"):
                qa.af.append(args[i + 1])
                i += 1
            if not qa.af:
                return f"Error: Argument {arg} requires at least one attribute parameter\n"
        elif _dash_prefix(arg, "format", 1):
            if i + 2 >= len(args):
                return "Error: Argument -format requires a spec and classad attribute name as parameters.\n"
            qa.formats.append((args[i + 1], args[i + 2]))
            i += 2
        elif _dash_prefix(arg, "name", 1) or _dash_prefix(arg, "pool", 1):
            i += 1
        elif _dash_prefix(arg, "wide", 1) or _dash_prefix(arg, "backwards", 1) or _dash_prefix(arg, "debug", 3):
            pass
        else:
            return ("unknown", arg)
        i += 1
    return True


def _select(jobs: dict, qa: QueryArgs, in_queue: bool):
    try:
        fns = [compile_constraint(c) for c in qa.constraints]
    except ConstraintError:
        return None
    ads = []
    ids = list(jobs)
    if qa.ids and not qa.owners:  # read only the jobs asked for, not the whole queue and history
        wanted = {ident if "." in ident else ident + "." for ident in qa.ids}
        ids = [i for i in ids if i in wanted or i.split(".")[0] + "." in wanted]
    for job_id in ids:
        job = jobs[job_id]
        if bool(job.get("in_queue")) != in_queue:
            continue
        ad = load_ad(job)
        if _matches(ad, qa, fns):
            ads.append((job, ad))
    return ads


def q_main(argv) -> int:
    qa = QueryArgs()
    result = _parse_query_args("condor_q", argv, qa)
    if isinstance(result, tuple):
        _err(f"Error: unrecognized argument {result[1]}\n")
        _q_usage()
        return 1
    if isinstance(result, str):
        _err(result)
        return 1
    if standin_queue.should_fail("condor_q"):
        _err(f"\n-- Failed to fetch ads from: {schedd_address()} : {standin_queue.hostname()}\n{daemon_down_error()}\n")
        return 1
    with standin_queue.Queue(SYSTEM, per_job=True) as q:
        selected = _select(q.jobs, qa, in_queue=True)
    if selected is None:
        _err(f'\n-- Parse error in constraint expression "{" && ".join(qa.constraints)}"\n')
        return 1
    ads = [ad for _, ad in sorted(selected, key=lambda p: (p[1]["ClusterId"], p[1]["ProcId"]))]
    if qa.limit is not None and qa.limit >= 0:
        ads = ads[: qa.limit]
    if qa.json:
        _print_json(ads, qa.attributes)
    elif qa.long:
        _print_long(ads, qa.attributes)
    elif qa.af is not None:
        _print_af(ads, qa)
    elif qa.formats:
        _print_format(ads, qa.formats)
    elif qa.totals:
        _out(_schedd_banner() + "\n" + summary_line(ads))
    elif qa.batch:
        _print_batch(ads)
    else:
        _print_nobatch(ads)
    return 0


def _history_usage():
    _out("Usage: condor_history [source] [restriction-list] [options]\n")
    _out("\t(the b2core stand-in prints only the start of the real usage text)\n")


def history_main(argv) -> int:
    qa = QueryArgs()
    result = _parse_query_args("condor_history", argv, qa)
    if isinstance(result, tuple):
        _err(f"Error: Unknown argument {result[1]}\n")
        _history_usage()
        return 1
    if isinstance(result, str):
        _err(result)
        return 1
    if standin_queue.should_fail("condor_history"):
        _err(
            "Unable to send history command to remote schedd;\n"
            "Typically, either the schedd is not responding, does not authorize you, "
            "or does not support remote history.\n"
        )
        return 1
    with standin_queue.Queue(SYSTEM, per_job=True) as q:
        selected = _select(q.jobs, qa, in_queue=False)
    if selected is None:
        _err(f"Error:  could not parse constraint {' && '.join(qa.constraints)}\n")
        return 1
    selected.sort(key=lambda p: (p[0].get("left_queue", 0), p[1]["ClusterId"], p[1]["ProcId"]), reverse=True)
    ads = [ad for _, ad in selected]
    if qa.limit is not None and qa.limit > 0:
        ads = ads[: qa.limit]
    if qa.jsonl:
        _out("".join(json_ad_oneline(ad, qa.attributes) + "\n" for ad in ads))
    elif qa.json:
        _print_history_json(ads, qa.attributes)
    elif qa.long:
        _print_long(ads, qa.attributes)
    elif qa.af is not None:
        _print_af(ads, qa)
    elif qa.formats:
        _print_format(ads, qa.formats)
    else:
        _print_history_table(ads)
    return 0


def _print_history_json(ads, projection):
    # history.cpp: "[\n" header always; ",\n" between ads; "\n" after each ad; "]\n" footer always
    out = ["[\n"]
    for index, ad in enumerate(ads):
        if index:
            out.append(",\n")
        out.append(json_ad(ad, projection) + "\n")
    out.append("]\n")
    _out("".join(out))


def _print_history_table(ads):
    rows = [
        (
            f"{ad['ClusterId']}.{ad['ProcId']}",
            str(ad.get("Owner")),
            _fmt_date(ad.get("QDate")),
            _fmt_runtime(ad.get("RemoteWallClockTime") or 0),
            STATUS_CHAR.get(ad.get("JobStatus"), "?"),
            _fmt_date(ad.get("CompletionDate")) if ad.get("CompletionDate") else "",
            _cmd_text(ad),
        )
        for ad in ads
    ]
    id_w = max([7] + [len(r[0]) + 1 for r in rows])
    lines = [f"{' ID':<{id_w}} {'OWNER':<14} {'SUBMITTED':>11} {'RUN_TIME':>12} ST {'COMPLETED':>11} CMD\n"]
    for r in rows:
        lines.append(f"{' ' + r[0]:<{id_w}} {r[1]:<14} {r[2]:>11} {r[3]:>12} {r[4]:<2} {r[5]:>11} {r[6]}\n")
    _out("".join(lines))


# =================================================== condor_rm / condor_hold / condor_release

ACTIONS = {
    "condor_rm": ("marked for removal", "remove", "via condor_rm"),
    "condor_hold": ("held", "hold", "via condor_hold"),
    "condor_release": ("released", "release", "via condor_release"),
}


def _action_usage(tool, word):
    _err(f"Usage: {tool} [options] [constraints]\n")
    _err(" where [options] is zero or more of:\n")
    _err("  -help               Display this message and exit\n")
    _err("  -version            Display version information and exit\n")
    _err("\t(the b2core stand-in prints only the start of the real usage text)\n")


def action_main(tool, argv) -> int:
    past, word, default_reason = ACTIONS[tool]
    reason = None
    subcode = 0
    job_ids, clusters, users, constraints = [], [], [], []
    all_jobs = False
    had_error = False
    args = argv[1:]
    if not args:
        _err("You did not specify any jobs\n")
        _action_usage(tool, word)
        return 1
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            if _dash_prefix(arg, "reason", 1):
                if i + 1 >= len(args):
                    _err(f"{tool}: -reason requires another argument\n")
                    return 1
                reason = args[i + 1]
                i += 1
            elif tool == "condor_hold" and _dash_prefix(arg, "subcode", 1):
                if i + 1 >= len(args) or not re.fullmatch(r"-?\d+", args[i + 1]):
                    _err(f"Invalid -subcode {args[i + 1] if i + 1 < len(args) else ''}!\n")
                    return 1
                subcode = int(args[i + 1])
                i += 1
            elif _dash_prefix(arg, "constraint", 1):
                if i + 1 >= len(args) or args[i + 1].startswith("-"):
                    _err(f"{tool}: -constraint requires another argument\n")
                    return 1
                constraints.append(args[i + 1])
                i += 1
            elif _dash_prefix(arg, "all", 1):
                if constraints or clusters or users:
                    _err(f"{tool}: can't mix -all with other constraints\n")
                    return 1
                all_jobs = True
            elif tool == "condor_rm" and _dash_prefix(arg, "forcex", 1):
                pass
            elif _dash_prefix(arg, "debug", 1) or _dash_prefix(arg, "long", 1) or _dash_prefix(arg, "totals", 3):
                pass
            elif _dash_prefix(arg, "name", 1) or _dash_prefix(arg, "pool", 1) or _dash_prefix(arg, "addr", 2):
                if i + 1 >= len(args):
                    _err(f"{tool}: {arg} requires another argument\n")
                    return 1
                i += 1
            elif _dash_prefix(arg, "help", 1):
                _action_usage(tool, word)
                return 0
            else:
                _err(f"Unrecognized option: {arg}\n")
                _action_usage(tool, word)
                return 1
        else:
            if all_jobs:
                _action_usage(tool, word)
                return 1
            m = re.fullmatch(r"(\d+)(?:\.(\d+))?", arg)
            if m and m.group(2) is not None:
                job_ids.append(arg)
            elif m:
                if int(m.group(1)) <= 0:
                    _err(f"Invalid cluster # from {arg}.\n")
                    had_error = True
                else:
                    clusters.append(int(m.group(1)))
            elif re.fullmatch(r"\d+\.", arg) or re.fullmatch(r"\d+\.\d+\.\d+", arg):
                _err(f'Warning: unrecognized "{arg}" skipped.\n')
            else:
                users.append(arg)
        i += 1
    if not (job_ids or clusters or users or constraints or all_jobs):
        if had_error:
            return 1
        _err("You did not specify any jobs\n")
        _action_usage(tool, word)
        return 1
    if standin_queue.should_fail(tool):
        _err(f"{daemon_down_error()}\n")
        for cluster in clusters:
            _err(f"Couldn't find/{word} all jobs in cluster {cluster}\n")
        for job_id in job_ids:
            _err(f"No result found for job {job_id}\n")
        return 1
    user = standin_queue.username()
    full_reason = f"{reason or default_reason} (by user {user})"
    to_start, messages_out, messages_err = [], [], []
    with standin_queue.Queue(SYSTEM, per_job=True) as q:
        if job_ids:
            if constraints:
                messages_err.append("Warning, -constraint is ignored for fully qualified job ids\n")
            results = []
            for job_id in job_ids:
                c, p = job_id.split(".")
                norm = f"{int(c)}.{int(p)}"
                job = q.jobs.get(norm)
                if not job or not job.get("in_queue"):
                    results.append((False, f"Job {norm} not found"))
                    continue
                ok, msg = _apply(tool, job, full_reason, subcode, to_start, norm)
                results.append((ok, msg))
            list_error = not all(ok for ok, _ in results)
            if list_error:
                had_error = True
                messages_err.append("\n")  # empty CondorError stack, printed with a newline
            for ok, msg in results:
                (messages_out if ok else messages_err).append(msg + "\n")
        # constraint based (clusters, users, -constraint, -all)
        if clusters or users or constraints or all_jobs:
            cons = []
            if all_jobs:
                cmsg = ""
                cons.append(lambda ad: True)
            else:
                parts = [f"ClusterId == {c}" for c in clusters] + [f'Owner == "{u}"' for u in users]
                if len(clusters) == 1 and not users and not constraints:
                    cmsg = f" in cluster {clusters[0]}"
                elif len(users) == 1 and not clusters and not constraints:
                    cmsg = f' of user "{users[0]}"'
                else:
                    expr = " || ".join(parts)
                    full = expr
                    for c_text in constraints:
                        full = f"({full}) && ({c_text})" if full else c_text
                    cmsg = f" matching constraint ({full})"
                try:
                    if parts:
                        cons.append(compile_constraint(" || ".join(parts)))
                    for c_text in constraints:
                        cons.append(compile_constraint(c_text))
                except ConstraintError:
                    _err(f"Couldn't find/{word} all jobs{cmsg}\n")
                    return 1
            queued = [(jid, job) for jid, job in q.jobs.items() if job.get("in_queue")]
            acted = False
            for jid, job in sorted(queued, key=lambda p: job_key(p[0])):
                ad = load_ad(job)
                if all(fn(ad) for fn in cons):
                    ok, _ = _apply(tool, job, full_reason, subcode, to_start, jid)
                    acted = acted or ok
            if acted:
                messages_out.append(f"All jobs{cmsg} have been {past}\n")
            elif not queued:
                messages_err.append(f"{tool}:0:There are no jobs in the queue\n")
            else:
                had_error = True
                messages_err.append("\n")
                messages_err.append(f"Couldn't find/{word} all jobs{cmsg}\n")
    for job_id in to_start:
        standin_queue.spawn_monitor(__file__, SYSTEM, job_id)
    # rm.cpp prints the per-id results before the constraint results
    _out("".join(messages_out))
    _err("".join(messages_err))
    return 1 if had_error else 0


def _apply(tool, job, reason, subcode, to_start, job_id):
    ad = load_ad(job)
    status = ad.get("JobStatus")
    if tool == "condor_rm":
        standin_queue.kill_run(job, (signal.SIGTERM, signal.SIGKILL), grace=0.5)
        job["_run"]["state"] = "removed"
        set_attrs(job, RemoveReason=reason)
        set_status(job, 3)
        write_event(job, 9, "Job was aborted.", f"\t{reason}\n")
        leave_queue(job)
        return True, f"Job {job_id} marked for removal"
    if tool == "condor_hold":
        if status == 5:
            return False, f"Job {job_id} already held"
        standin_queue.kill_run(job, (signal.SIGKILL,), grace=0.5)
        job["_run"]["state"] = "held"
        set_attrs(job, HoldReason=reason, HoldReasonCode=1, HoldReasonSubCode=subcode)
        set_status(job, 5)
        write_event(job, 12, "Job was held.", f"\t{reason}\n\tCode 1 Subcode {subcode}\n")
        return True, f"Job {job_id} held"
    # condor_release
    if status != 5:
        return False, f"Job {job_id} not held to be released"
    set_attrs(job, HoldReason=None, HoldReasonCode=None, HoldReasonSubCode=None, ReleaseReason=reason)
    set_status(job, 1)
    write_event(job, 13, "Job was released.", f"\t{reason}\n")
    standin_queue.new_run(job, float(os.environ.get("B2CORE_STANDIN_START_DELAY", "0") or 0))
    to_start.append(job_id)
    return True, f"Job {job_id} released"


# ============================================================================ main


def _wants_version(tool: str, argv) -> bool:
    """condor_version (no options) and every tool's -version print the version and platform lines."""
    if tool == "condor_version":
        return True
    return any(arg.startswith("-") and _dash_prefix(arg, "version", 4) for arg in argv[1:])


def main(tool: str, argv) -> int:
    standin_queue.log_call(tool, argv)
    if _wants_version(tool, argv):
        if tool == "condor_version" and len(argv) > 1 and _dash_prefix(argv[1], "help", 1):
            _out("Usage: condor_version [-arch] [-opsys] [-syscall]\n")
            return 0
        if tool == "condor_version" and len(argv) > 1 and _dash_prefix(argv[1], "arch", 1):
            _out("X86_64\n")
            return 0
        if tool == "condor_version" and len(argv) > 1 and _dash_prefix(argv[1], "opsys", 1):
            _out("LINUX\n")
            return 0
        _out(VERSION_TEXT)
        return 0
    if tool == "condor_submit":
        return submit_main(argv)
    if tool == "condor_q":
        return q_main(argv)
    if tool == "condor_history":
        return history_main(argv)
    return action_main(tool, argv)


if __name__ == "__main__":
    if not standin_queue.monitor_main(sys.argv, HANDLERS):
        sys.exit(main(os.path.basename(sys.argv[0]), sys.argv))
