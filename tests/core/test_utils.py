"""b2core.utils, b2luigi's helper functions (b2luigi.core.utils): signatures and return types as b2luigi's."""

from __future__ import annotations

import collections
import logging
from pathlib import Path

import b2core as b2luigi
import luigi
import pytest
from b2core import utils


class UtilsLeaf(b2luigi.Task):
    """Two outputs per value of n; a hidden parameter that stays out of result paths."""

    n = b2luigi.IntParameter()
    note = b2luigi.Parameter(default="x", hidden=True)

    def output(self):
        yield self.add_to_output("a.txt")
        yield self.add_to_output("b.txt")


class Root(b2luigi.WrapperTask):
    """Three leaves, the middle one required twice."""

    def requires(self):
        for n in (0, 1, 1, 2):
            yield UtilsLeaf(n=n)


def test_product_dict_crosses_every_value() -> None:
    combos = utils.product_dict(a=[1, 2], b=["x", "y"])
    assert not isinstance(combos, list)  # an iterator, as in b2luigi
    assert list(combos) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert list(utils.product_dict(a=[1, 2], b=[])) == []


def test_fill_kwargs_with_lists_wraps_single_values() -> None:
    assert utils.fill_kwargs_with_lists(a=[1, 2], b=3, c="text", d=None) == {
        "a": [1, 2],
        "b": [3],
        "c": ["text"],
        "d": [],
    }


def test_flatten_to_dict_merges_nested_dicts_and_maps_other_items_to_themselves() -> None:
    assert utils.flatten_to_dict([{"a": 1}, [{"b": 2}, {"a": 3}], "d"]) == {"a": 3, "b": 2, "d": "d"}
    assert utils.flatten_to_dict({"a": 1}) == {"a": 1}
    assert utils.flatten_to_dict("d") == {"d": "d"}
    assert utils.flatten_to_dict([]) == {}


def test_flatten_to_dict_of_lists_keeps_repeated_keys() -> None:
    nested = [[{"a": 1}, {"b": 2}], [{"a": 3}], "d"]
    assert utils.flatten_to_dict_of_lists(nested) == {"a": [1, 3], "b": [2], "d": ["d"]}


def test_flatten_to_file_paths_keys_by_file_name(tmp_path: Path) -> None:
    named = luigi.LocalTarget(str(tmp_path / "x" / "named.txt"))
    plain = luigi.LocalTarget(str(tmp_path / "y" / "plain.txt"))
    paths = utils.flatten_to_file_paths([{"sub/named.txt": named}, plain])
    assert paths == {"named.txt": [named.path], "plain.txt": [plain.path]}


def test_task_iterator_visits_each_task_once_depth_first() -> None:
    order = [str(task) for task in utils.task_iterator(Root())]
    assert order == ["Root()", "UtilsLeaf(n=0, note=x)", "UtilsLeaf(n=1, note=x)", "UtilsLeaf(n=2, note=x)"]


def test_task_iterator_only_non_complete_stops_at_complete_tasks(in_process_folders: Path) -> None:
    for name in ("a.txt", "b.txt"):
        path = Path(UtilsLeaf(n=1).get_output_file_name(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("done")
    assert [t.n for t in utils.task_iterator(Root(), only_non_complete=True) if isinstance(t, UtilsLeaf)] == [0, 2]


def test_get_all_output_files_in_tree(in_process_folders: Path) -> None:
    files = utils.get_all_output_files_in_tree(Root())
    assert sorted(files) == ["a.txt", "b.txt"]
    first = files["a.txt"][0]
    assert first == {
        "exists": False,
        "parameters": collections.OrderedDict(n="0"),
        "file_name": str(in_process_folders / "results" / "n=0" / "a.txt"),
    }
    assert [entry["parameters"]["n"] for entry in utils.get_all_output_files_in_tree(Root(), "b.txt")] == [
        "0",
        "1",
        "2",
    ]


def test_parameters_filled_and_serialized() -> None:
    task = UtilsLeaf(n=3)
    assert utils.get_filled_params(task) == {"n": 3, "note": "x"}
    serialized = utils.get_serialized_parameters(task)
    assert type(serialized) is collections.OrderedDict and serialized == {"n": "3"}
    assert utils.get_serialized_parameters(task, need_hidden=True) == {"n": "3", "note": "x"}


def test_create_output_file_name(in_process_folders: Path, tmp_path: Path) -> None:
    task = UtilsLeaf(n=3)
    assert utils.create_output_file_name(task, "f.root") == str(in_process_folders / "results" / "n=3" / "f.root")
    assert utils.create_output_file_name(task, "f.root", result_dir=str(tmp_path)) == str(tmp_path / "n=3" / "f.root")
    assert utils.create_output_file_name(task, "f.root", str(tmp_path), need_hidden=True) == str(
        tmp_path / "n=3" / "note=x" / "f.root"
    )
    with pytest.raises(ValueError, match="hashed=True"):
        utils.create_output_file_name(UtilsLeaf(n=3, note="a/b"), "f.root", need_hidden=True)


def test_log_and_task_file_dirs(in_process_folders: Path) -> None:
    task = UtilsLeaf(n=3)
    assert utils.get_log_file_dir(task) == str(in_process_folders / "logs" / "n=3" / "UtilsLeaf") + "/"
    assert (
        utils.get_task_file_dir(task) == str(in_process_folders / "task_files" / "n=3" / "note=x" / "UtilsLeaf") + "/"
    )


def test_map_folder_and_is_subdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import __main__

    monkeypatch.setattr(__main__, "__file__", str(tmp_path / "steering.py"), raising=False)
    assert utils.get_filename() == str(tmp_path / "steering.py")
    assert utils.map_folder("results") == str(tmp_path / "results")
    assert utils.map_folder("/abs/results") == "/abs/results"
    assert utils.is_subdir("/a/b/c", "/a/b") and utils.is_subdir("/a/b", "/a/b/")
    assert not utils.is_subdir("/a/bc", "/a/b") and not utils.is_subdir("/a", "/a/b")
    monkeypatch.delattr(__main__, "__file__")
    with pytest.raises(AttributeError, match="__file__"):
        utils.get_filename()


def test_create_output_dirs(in_process_folders: Path) -> None:
    utils.create_output_dirs(UtilsLeaf(n=4))
    assert (in_process_folders / "results" / "n=4").is_dir()


def test_on_failure_explains_which_task_failed(capsys: pytest.CaptureFixture[str], in_process_folders: Path) -> None:
    task = UtilsLeaf(n=5)
    utils.add_on_failure_function(task)
    explanation = task.on_failure(RuntimeError("boom"))
    assert explanation.startswith(f"Failed task {task} with task_id and parameters:\n\ttask_id={task.task_id}\n")
    assert "\tn=5\n\tnote=x\n" in explanation
    assert explanation.endswith(str(in_process_folders / "logs" / "n=5" / "UtilsLeaf"))
    assert explanation in capsys.readouterr().out


def test_get_luigi_logger() -> None:
    assert utils.get_luigi_logger() is logging.getLogger("luigi-interface")
