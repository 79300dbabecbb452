"""LocalTarget's scratch helpers (tmp_name, get_temporary_input, temporary_path) and on_temporary_files."""

from __future__ import annotations

import re
from pathlib import Path

import b2core as b2luigi
import pytest


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """scratch_dir for the test."""
    folder = tmp_path / "scratch"
    b2luigi.set_setting("scratch_dir", str(folder))
    return folder


def test_tmp_name_keeps_every_extension_and_is_fresh_each_time(tmp_path: Path) -> None:
    target = b2luigi.LocalTarget(str(tmp_path / "data.tar.gz"))
    name = target.tmp_name
    assert re.fullmatch(r"data-luigi-tmp-\d{10}\.tar\.gz", name), name
    assert len({target.tmp_name for _ in range(20)}) > 1
    assert re.fullmatch(r"folder-luigi-tmp-\d{10}/", b2luigi.LocalTarget(str(tmp_path / "folder") + "/").tmp_name)


def test_get_temporary_input_copies_into_scratch_and_cleans_up(tmp_path: Path, scratch: Path) -> None:
    source = tmp_path / "in.root"
    source.write_text("events")
    with b2luigi.LocalTarget(str(source)).get_temporary_input(suffix="-copy") as copy:
        assert scratch in Path(copy).parents and Path(copy).parent.name.endswith("-copy")
        assert Path(copy).read_text() == "events"
    assert not Path(copy).exists() and list(scratch.iterdir()) == []


def test_temporary_path_moves_into_place_only_on_success(tmp_path: Path, scratch: Path) -> None:
    final = tmp_path / "out" / "result.txt"
    target = b2luigi.LocalTarget(str(final))
    with pytest.raises(RuntimeError), target.temporary_path() as path:
        Path(path).write_text("half")
        raise RuntimeError("crash while writing")
    assert not final.exists() and list(scratch.iterdir()) == []
    with target.temporary_path(task=None) as path:
        assert scratch in Path(path).parents
        Path(path).write_text("whole")
    assert final.read_text() == "whole" and list(scratch.iterdir()) == []


def test_temporary_path_takes_scratch_dir_from_the_task(tmp_path: Path, scratch: Path) -> None:
    class OwnScratch(b2luigi.Task):
        scratch_dir = str(tmp_path / "own")

    with b2luigi.LocalTarget(str(tmp_path / "x.txt")).temporary_path(task=OwnScratch()) as path:
        assert tmp_path / "own" in Path(path).parents
        Path(path).write_text("x")


class Source(b2luigi.Task):
    """Two inputs for Reader."""

    n = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("in.txt")


class Reader(b2luigi.Task):
    """Records what on_temporary_files hands its run()."""

    seen: dict[str, object] = {}

    def requires(self):
        return [Source(n=1), Source(n=2)]

    def output(self):
        yield self.add_to_output("out.txt")

    @b2luigi.on_temporary_files
    def run(self):
        inputs = self.get_input_file_names("in.txt")
        Reader.seen.update(
            inputs=inputs,
            again=self.get_input_file_names()["in.txt"],
            all=list(self.get_all_input_file_names()),
            contents=[Path(p).read_text() for p in inputs],
            output=self.get_output_file_name("out.txt", prefix="mine-"),
        )
        Path(Reader.seen["output"]).write_text("+".join(Reader.seen["contents"]))


@pytest.mark.parametrize("threads", [2, None])
def test_on_temporary_files_reads_copies_of_inputs_and_writes_in_scratch(
    in_process_folders: Path, scratch: Path, threads: int | None
) -> None:
    """Inputs are copied into scratch once per run (n_download_threads at a time); outputs move into place."""
    b2luigi.set_setting("n_download_threads", threads)
    for n in (1, 2):
        path = Path(Source(n=n).get_output_file_name("in.txt"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"value {n}")
    Reader().run()
    seen = Reader.seen
    assert all(scratch in Path(p).parents for p in seen["inputs"]), seen
    assert seen["again"] == seen["inputs"] == seen["all"]
    assert seen["contents"] == ["value 1", "value 2"]
    assert Path(seen["output"]).parent.name.startswith("mine-")
    assert Path(Reader().get_output_file_name("out.txt")).read_text() == "value 1+value 2"
    assert list(scratch.iterdir()) == []
