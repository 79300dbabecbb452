"""Conformance tests of the apptainer stand-in against recorded Apptainer output.

Recordings and their sources: ``recorded/README.md``; behaviour: ``FORMATS.md``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
APPTAINER = HERE / "bin" / "apptainer"
RECORDED = HERE / "recorded"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# prints the environment the command sees as JSON, plus the working directory
DUMP_ENV = "import json, os; print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd()}))"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


@pytest.fixture
def box(tmp_path):
    state = tmp_path / "state"
    image = tmp_path / "images" / "belle2-base.sif"
    image.parent.mkdir()
    image.write_bytes(b"SIF stand-in image\n")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("B2CORE_", "APPTAINER", "SINGULARITY"))
    }
    env.update(B2CORE_STANDIN_DIR=str(state), TERM="xterm-test", HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()

    class Box:
        root = tmp_path

        def __init__(self) -> None:
            self.image = image
            self.state = state
            self.env = env

        def run(self, *args: str, extra_env: dict | None = None, cwd: Path | None = None):
            # sys.executable instead of the shebang: a pyenv shim on PATH costs ~0.5 s per call
            return subprocess.run(
                [sys.executable, str(APPTAINER), *args],
                capture_output=True,
                text=True,
                env={**self.env, **(extra_env or {})},
                cwd=cwd or tmp_path,
                timeout=30,
            )

        def inner(self, *flags: str, extra_env: dict | None = None, cwd: Path | None = None) -> dict:
            proc = self.run(
                "exec", *flags, str(self.image), sys.executable, "-c", DUMP_ENV, extra_env=extra_env, cwd=cwd
            )
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout)

    return Box()


def test_version_matches_recording(box):
    rec = recorded("version.txt").strip()
    out = box.run("--version").stdout.strip()
    assert re.sub(r"[\d.]+(-\S+)?$", "<V>", out) == re.sub(r"[\d.]+(-\S+)?$", "<V>", rec)
    assert box.run("version").stdout.strip() == out.split()[-1]
    other = box.run("--version", extra_env={"B2CORE_APPTAINER_VERSION": "1.1.6-1.el7"}).stdout.strip()
    assert other == rec


def test_missing_image_matches_recording(box, tmp_path):
    missing = tmp_path / "images" / "nope.sif"
    proc = box.run("exec", str(missing), "true")
    assert proc.returncode == 255 and proc.stdout == ""
    rec_path = re.search(r"could not open image (\S+): ", recorded("missing_image.txt")).group(1)
    assert proc.stderr == recorded("missing_image.txt").replace(rec_path, str(missing))
    # relative path, first missing component named by lstat
    proc = box.run("exec", "nodir/img.sif", "true")
    assert proc.stderr.strip().endswith(f"lstat {tmp_path}/nodir: no such file or directory")
    assert f"could not open image {tmp_path}/nodir/img.sif:" in proc.stderr
    text_file = tmp_path / "notes.txt"
    text_file.write_text("x")
    proc = box.run("exec", str(text_file), "true")
    assert proc.returncode == 255 and "image format not recognized" in proc.stderr


def test_usage_errors_match_recordings(box):
    proc = box.run("exec", "-v", str(box.image), "true")
    assert proc.returncode == 1
    assert proc.stderr == recorded("unknown_shorthand_flag.txt").replace('"run"', '"exec"')
    proc = box.run("exec", "--foo", str(box.image), "true")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == 'Error for command "exec": unknown flag: --foo'
    assert proc.stderr.splitlines()[1:] == recorded("unknown_shorthand_flag.txt").splitlines()[1:]
    proc = box.run("exec", str(box.image))
    assert proc.returncode == 1
    assert proc.stderr == recorded("missing_arguments.txt").replace("singularity", "apptainer")
    proc = box.run("exec", "--bind")
    assert "flag needs an argument: --bind" in proc.stderr
    proc = box.run("exec", "--env", "NOEQUALS", str(box.image), "true")
    assert 'invalid argument "NOEQUALS" for "--env" flag' in proc.stderr and proc.returncode == 1
    proc = box.run("exec", "--cleanenv=maybe", str(box.image), "true")
    assert "strconv.ParseBool" in proc.stderr
    assert box.run("frobnicate").returncode == 1
    assert box.run("run", str(box.image)).returncode == 255


def test_bind_checks(box, tmp_path):
    missing = tmp_path / "no_such_dir"
    proc = box.run("exec", "--bind", f"{tmp_path}:/data,{missing}:/mnt", str(box.image), "true")
    assert proc.returncode == 255
    prefix = re.match(
        r"(FATAL:   container creation failed: mount hook function failure: mount )", recorded("mount_hook_failure.txt")
    )
    assert proc.stderr.startswith(prefix.group(1))
    assert proc.stderr.strip() == (
        f"{prefix.group(1)}{missing}->/mnt error: while mounting {missing}: mount source {missing} doesn't exist"
    )
    # binds from the environment are checked too
    proc = box.run("exec", str(box.image), "true", extra_env={"APPTAINER_BINDPATH": str(missing)})
    assert proc.returncode == 255 and f"mount source {missing} doesn't exist" in proc.stderr
    proc = box.run("exec", "-B", f"{tmp_path}:/d:bogus", str(box.image), "true")
    assert proc.returncode == 255 and "bogus is not a valid bind option" in proc.stderr
    # all accepted spellings
    for flags in (
        ["-B", f"{tmp_path}"],
        [f"-B{tmp_path}:/x:ro"],
        [f"--bind={tmp_path}:/x:rw,/usr"],
        ["--bind", f"{tmp_path}", "-B", "/usr:/opt/usr"],
    ):
        assert box.run("exec", *flags, str(box.image), "true").returncode == 0, flags


def test_environment_is_built_like_apptainer(box, tmp_path):
    host = {"FOO": "host", "LD_LIBRARY_PATH": "/host/lib", "APPTAINER_CACHEDIR": "/c", "APPTAINERENV_BAR": "inner"}
    inside = box.inner(extra_env=host)["env"]
    assert inside["FOO"] == "host" and inside["BAR"] == "inner"
    assert inside["PATH"] == DEFAULT_PATH  # host PATH never enters the container
    assert inside["LD_LIBRARY_PATH"] == "/.singularity.d/libs"
    assert inside["HOME"] == str(tmp_path / "home")
    assert "APPTAINER_CACHEDIR" not in inside and "APPTAINERENV_BAR" not in inside
    assert inside["APPTAINER_CONTAINER"] == str(box.image)
    assert inside["APPTAINER_NAME"] == "belle2-base.sif"
    assert "LANG" not in inside or inside["LANG"] == os.environ.get("LANG")

    clean = box.inner("--cleanenv", "--env", "X=1,Y=2", "--env", "Z=3", extra_env=host)["env"]
    assert "FOO" not in clean and clean["TERM"] == "xterm-test" and clean["LANG"] == "C"
    assert (clean["BAR"], clean["X"], clean["Y"], clean["Z"]) == ("inner", "1", "2", "3")
    assert clean["APPTAINER_NAME"] == "belle2-base.sif"
    expected = {
        "BAR", "X", "Y", "Z", "TERM", "LANG", "HOME", "PATH", "LD_LIBRARY_PATH", "PS1",
        "APPTAINER_CONTAINER", "APPTAINER_NAME", "APPTAINER_ENVIRONMENT", "APPTAINER_COMMAND",
    }  # fmt: skip
    assert set(clean) - {"LC_CTYPE"} == expected  # Python itself adds LC_CTYPE when LANG=C

    short = box.inner("-e", extra_env={**host, "APPTAINERENV_PREPEND_PATH": "/opt/bin"})["env"]
    assert "FOO" not in short and short["PATH"] == "/opt/bin:" + DEFAULT_PATH
    contained = box.inner("-C", "--no-home", extra_env=host)["env"]
    assert "FOO" not in contained
    proc = box.run("exec", str(box.image), "true", extra_env={"APPTAINERENV_HOME": "/x"})
    assert "Overriding HOME environment variable with APPTAINERENV_HOME is not permitted" in proc.stderr
    env_file = tmp_path / "vars.env"
    env_file.write_text("# comment\nexport A='a 1'\nB=b\n")
    from_file = box.inner("--env-file", str(env_file), "--env", "B=override")["env"]
    assert (from_file["A"], from_file["B"]) == ("a 1", "override")
    with_binds = box.inner("-B", f"{tmp_path}:/data")["env"]
    assert with_binds["APPTAINER_BIND"] == f"{tmp_path}:/data"


def test_pwd_exit_code_directory_image_and_call_log(box, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = box.inner("--pwd", str(work))
    assert result["cwd"] == str(work)
    assert box.inner(cwd=work)["cwd"] == str(work)
    assert box.run("exec", "--pwd", str(tmp_path / "missing"), str(box.image), "true").returncode == 255

    sandbox = tmp_path / "sandbox_image"
    sandbox.mkdir()
    proc = box.run("exec", "--cleanenv", str(sandbox), "/bin/bash", "-c", "echo $APPTAINER_NAME; exit 7")
    assert proc.returncode == 7 and proc.stdout.strip() == "sandbox_image"
    proc = box.run("exec", str(box.image), "definitely-not-a-command")
    assert proc.returncode == 255
    assert proc.stderr.strip() == 'FATAL:   "definitely-not-a-command": executable file not found in $PATH'

    # b2luigi-style wrapping: env script sourced inside the container, then the task command
    env_script = tmp_path / "setup.sh"
    env_script.write_text("export FROM_ENV_SCRIPT=yes\n")
    cmd = f"source {env_script} && echo $FROM_ENV_SCRIPT $APPTAINER_CONTAINER"
    proc = box.run("exec", "--cleanenv", "--bind", str(tmp_path), str(box.image), "/bin/bash", "-c", cmd)
    assert proc.returncode == 0 and proc.stdout.split() == ["yes", str(box.image)]

    calls = [json.loads(line) for line in (box.state / "calls.jsonl").read_text().splitlines()]
    assert all(call["tool"] == "apptainer" for call in calls)
    last = calls[-1]
    assert last["argv"] == [
        "apptainer",
        "exec",
        "--cleanenv",
        "--bind",
        str(tmp_path),
        str(box.image),
        "/bin/bash",
        "-c",
        cmd,
    ]
    assert {"time", "pid"} <= set(last)
