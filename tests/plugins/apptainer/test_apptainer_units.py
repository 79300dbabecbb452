"""The Apptainer hooks on their own: when they apply, the command they build, and their errors."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import b2core
import luigi
import pytest
from b2core.batch.wrapper import job_command, render_wrapper
from b2core.errors import SettingsError
from b2core.hookspecs import JobCommand
from b2core.plugins import plugin_manager
from b2core.settings import set_setting
from b2core_apptainer import hooks
from b2core_apptainer.command import apptainer_command, container_command


class Plain(b2core.Task):
    """A task with its folders under a test's tmp_path (set per test through set_setting)."""

    number = luigi.IntParameter(default=1)


def make(**attributes: object) -> b2core.Task:
    return type("Plain", (Plain,), attributes)()


@pytest.fixture(autouse=True)
def folders(tmp_path: Path) -> Path:
    """Put result, log and task-file folders into tmp_path so default mounts are created there."""
    set_setting("result_dir", str(tmp_path / "results"))
    set_setting("log_dir", str(tmp_path / "logs"))
    set_setting("task_file_dir", str(tmp_path / "task_files"))
    set_setting("apptainer_cmd", "apptainer")
    return tmp_path


def test_only_tasks_with_an_image_need_the_wrapper() -> None:
    assert hooks.b2core_task_needs_wrapper(make()) is None
    assert hooks.b2core_task_needs_wrapper(make(apptainer_image="/img.sif")) is True
    assert plugin_manager().hook.b2core_task_needs_wrapper(task=make(apptainer_image="/img.sif")) is True
    command = JobCommand(argv=["python", "x.py"])
    assert hooks.b2core_wrap_command(make(), command) is None


def test_a_global_image_applies_to_every_task() -> None:
    set_setting("apptainer_image", "/img.sif")
    assert hooks.b2core_task_needs_wrapper(make()) is True


def test_the_wrapped_command(folders: Path) -> None:
    task = make(
        apptainer_image="/images/el9.sif",
        apptainer_mounts=["/cvmfs", "/data:/mnt/data:ro"],
        apptainer_additional_params="--cleanenv --env 'GREETING=hello world'",
        env_script="/opt/setup env.sh",
        executable=["$MY_PYTHON"],
    )
    original = job_command(task)
    wrapped = apptainer_command(task, original)
    results, logs, task_files = (str(folders / name) for name in ("results", "logs", "task_files"))
    image_at = wrapped.argv.index("/images/el9.sif")
    assert wrapped.argv[:image_at] == [
        "apptainer", "exec", "--cleanenv", "--env", "GREETING=hello world",
        "--bind", "/cvmfs", "--bind", "/data:/mnt/data:ro",
        "--bind", results, "--bind", logs, "--bind", task_files,
    ]  # fmt: skip
    inner = wrapped.argv[image_at + 1 :]
    assert inner[:2] == ["/bin/bash", "-c"]
    assert inner[2] == "source '/opt/setup env.sh' && exec \"$MY_PYTHON\" " + " ".join(
        shlex.quote(word) for word in original.argv[1:]
    )
    assert wrapped.env_script == "" and wrapped.expandable == 1
    assert all(Path(folder).is_dir() for folder in (results, logs, task_files)), "default mounts are created"

    text = render_wrapper(task, wrapped)
    assert "\nsource " not in text, "env_script is sourced inside the container only"
    exec_line = text.splitlines()[-1]
    assert shlex.split(exec_line)[1:] == wrapped.argv, "the exec line is the wrapped command, quoted safely"


def test_mount_defaults_can_be_switched_off() -> None:
    task = make(apptainer_image="/img.sif", apptainer_mount_defaults=False, apptainer_additional_params=["-e"])
    wrapped = apptainer_command(task, job_command(task))
    assert "--bind" not in wrapped.argv
    assert wrapped.argv[:3] == ["apptainer", "exec", "-e"]


def test_nested_default_folders_are_bound_once(folders: Path) -> None:
    set_setting("result_dir", str(folders))
    task = make(apptainer_image="/img.sif")
    wrapped = apptainer_command(task, job_command(task))
    assert [wrapped.argv[i + 1] for i, w in enumerate(wrapped.argv) if w == "--bind"] == [str(folders)]


def test_image_check_in_the_wrapper_only_for_paths() -> None:
    for image, checked in (("/img.sif", True), ("docker://ubuntu:24.04", False)):
        task = make(apptainer_image=image)
        notes = apptainer_command(task, job_command(task)).notes
        assert any(note.startswith("[ -e ") for note in notes) is checked


def test_settings_without_an_image_are_an_error() -> None:
    for key, value in (("apptainer_mounts", ["/cvmfs"]), ("apptainer_additional_params", "--cleanenv")):
        with pytest.raises(SettingsError, match=f"sets {key} but no apptainer_image"):
            hooks.b2core_task_needs_wrapper(make(**{key: value}))
        with pytest.raises(SettingsError, match="but no apptainer_image"):
            hooks.b2core_wrap_command(make(**{key: value}), JobCommand(argv=["x"]))


def test_global_mounts_without_an_image_are_fine() -> None:
    set_setting("apptainer_mounts", ["/cvmfs"])
    assert hooks.b2core_task_needs_wrapper(make()) is None


def test_gbasf2_tasks_are_refused() -> None:
    task = make(apptainer_image="/img.sif", batch_system="gbasf2")
    with pytest.raises(SettingsError, match="cannot run in an Apptainer container"):
        hooks.b2core_task_needs_wrapper(task)
    with pytest.raises(SettingsError, match="cannot run in an Apptainer container"):
        hooks.b2core_wrap_command(task, JobCommand(argv=["x"]))


def test_container_command_falls_back_to_singularity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from b2core.settings import clear_setting

    clear_setting("apptainer_cmd")
    task = make(apptainer_image="/img.sif")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(SettingsError, match="neither `apptainer` nor `singularity` is on PATH"):
        container_command(task)
    for name in ("singularity", "apptainer"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        os.chmod(bin_dir / name, 0o755)
        assert container_command(task) == name
    assert container_command(make(apptainer_image="/img.sif", apptainer_cmd="/opt/bin/apptainer")) == (
        "/opt/bin/apptainer"
    )


def test_wrong_types_fail_naming_the_setting() -> None:
    plugin_manager()
    with pytest.raises(SettingsError, match="apptainer_mounts"):
        set_setting("apptainer_mounts", "/cvmfs")
    with pytest.raises(SettingsError, match="apptainer_mount_defaults"):
        set_setting("apptainer_mount_defaults", "sometimes")


def test_bad_additional_params_fail_clearly() -> None:
    task = make(apptainer_image="/img.sif", apptainer_additional_params="--env 'unclosed")
    with pytest.raises(SettingsError, match="not valid shell syntax"):
        apptainer_command(task, job_command(task))
