"""Parameters: every luigi type re-exported, hashed/hidden folder names, serialisation as in b2luigi."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import b2core as b2luigi
import luigi
import luigi.parameter
import pytest

REFERENCE_HASH = "hashed_08928069d368e4a0f8ac02a0193e443b"


def folders_of(task: b2luigi.Task, result_dir: Path) -> list[str]:
    """The parameter folders between result_dir and the output file of a task."""
    path = Path(task.get_output_file_name("out.txt"))
    return list(path.relative_to(result_dir).parts[:-1])


def make_task(name: str, **parameters: luigi.Parameter) -> type:
    """A task class with the given parameters (in that order) and one output, out.txt."""

    def output(self: b2luigi.Task):
        yield self.add_to_output("out.txt")

    return type(name, (b2luigi.Task,), {**parameters, "output": output, "__module__": __name__})


def test_every_luigi_parameter_type_is_reexported_as_a_subclass() -> None:
    """b2luigi users use b2luigi.XParameter for every luigi type, with hashed= available on each."""
    names = [
        name
        for name, cls in vars(luigi.parameter).items()
        if inspect.isclass(cls) and issubclass(cls, luigi.Parameter) and name.endswith("Parameter")
    ]
    assert "ListParameter" in names and "OptionalIntParameter" in names
    for name in names:
        ours = getattr(b2luigi, name)
        assert issubclass(ours, getattr(luigi.parameter, name)), name
        assert "hashed" in inspect.signature(ours.__init__).parameters, name


def test_hashed_list_parameter_matches_the_reference_hash(in_process_folders: Path) -> None:
    """Existing b2luigi result folders stay valid: md5 of str() of luigi's normalised (tuple) value."""
    task_class = make_task("HashedList", names=b2luigi.ListParameter(hashed=True))
    task = task_class(names=["Some", "strange", "items", "with", "bad / signs"])
    assert folders_of(task, in_process_folders / "results") == [f"names={REFERENCE_HASH}"]


def test_hashed_dict_parameter_matches_the_reference_hash(in_process_folders: Path) -> None:
    """DictParameter hashes the plain-dict repr, as b2luigi does."""
    task_class = make_task("HashedDict", d=b2luigi.DictParameter(hashed=True))
    assert folders_of(task_class(d={"a": 1}), in_process_folders / "results") == [
        "d=hashed_5268827fe25d043c696340679639cf67"
    ]


@pytest.mark.parametrize(
    ("parameter", "value", "folder"),
    [
        (b2luigi.IntParameter(), 3, "p=3"),
        (b2luigi.FloatParameter(), 1.5, "p=1.5"),
        (b2luigi.BoolParameter(), True, "p=True"),
        (b2luigi.Parameter(), "text with spaces", "p=text with spaces"),
        (b2luigi.ListParameter(), [1, 2], "p=[1, 2]"),
        (b2luigi.ListParameter(), ["a", "b"], 'p=["a", "b"]'),
        (b2luigi.DictParameter(), {"a": 1}, 'p={"a": 1}'),
    ],
)
def test_serialisation_in_folder_names_matches_the_reference_table(
    in_process_folders: Path, parameter: luigi.Parameter, value: object, folder: str
) -> None:
    """Folder names use luigi's serialisation (JSON with spaces for lists and dicts)."""
    task_class = make_task(f"Serialised{type(parameter).__name__}", p=parameter)
    assert folders_of(task_class(p=value), in_process_folders / "results") == [folder]


def test_custom_hash_function_is_used(in_process_folders: Path) -> None:
    """hash_function decides the folder text of a hashed parameter."""
    task_class = make_task("CustomHash", items=b2luigi.ListParameter(hash_function=lambda v: f"n{len(v)}"))
    assert folders_of(task_class(items=[1, 2, 3]), in_process_folders / "results") == ["items=n3"]


def test_hash_function_must_take_one_argument() -> None:
    """A hash function with the wrong signature is rejected when the parameter is declared."""
    with pytest.raises(ValueError, match="exactly one argument"):
        b2luigi.Parameter(hash_function=lambda a, b: "x")


def test_hidden_parameters_stay_in_task_id_and_task_files_but_not_in_results_or_logs(in_process_folders: Path) -> None:
    """hidden=True keeps a parameter out of result and log paths only."""
    from b2core.paths import log_file_dir, task_file_dir

    task_class = make_task("HiddenParam", a=b2luigi.IntParameter(), h=b2luigi.IntParameter(hidden=True))
    one, two = task_class(a=1, h=1), task_class(a=1, h=2)
    assert one.task_id != two.task_id
    assert folders_of(one, in_process_folders / "results") == ["a=1"]
    assert log_file_dir(one) == os.path.join(in_process_folders, "logs", "a=1", "HiddenParam", "")
    assert task_file_dir(one) == os.path.join(in_process_folders, "task_files", "a=1", "h=1", "HiddenParam", "")


def test_insignificant_parameters_are_hidden_and_cannot_be_unhidden(in_process_folders: Path) -> None:
    """significant=False implies hidden; hidden=False with it contradicts and raises."""
    task_class = make_task("Insignificant", a=b2luigi.IntParameter(), s=b2luigi.IntParameter(significant=False))
    assert folders_of(task_class(a=1, s=5), in_process_folders / "results") == ["a=1"]
    with pytest.raises(ValueError):
        b2luigi.IntParameter(significant=False, hidden=False)


def test_parameter_order_is_creation_order_not_alphabetical(in_process_folders: Path) -> None:
    """luigi orders parameters by when the Parameter objects were created; the folders follow."""
    task_class = make_task("Ordered", zeta=b2luigi.IntParameter(), alpha=b2luigi.IntParameter())
    assert folders_of(task_class(zeta=1, alpha=2), in_process_folders / "results") == ["zeta=1", "alpha=2"]


def test_parameters_copied_by_requires_come_first(in_process_folders: Path) -> None:
    """Parameters of a required task were created earlier, so @requires puts them first (as in b2luigi)."""
    upstream = make_task("Upstream", year=b2luigi.IntParameter())
    own = b2luigi.IntParameter()

    @b2luigi.requires(upstream)
    class Downstream(b2luigi.Task):
        run_number = own

        def output(self):
            yield self.add_to_output("out.txt")

    assert folders_of(Downstream(year=2024, run_number=7), in_process_folders / "results") == [
        "year=2024",
        "run_number=7",
    ]


def test_hashed_parameters_offer_serialize_hashed(in_process_folders: Path) -> None:
    """serialize_hashed gives the folder text of hashed parameters; unhashed ones have none, as in b2luigi."""
    hashed = b2luigi.ListParameter(hashed=True)
    assert hashed.serialize_hashed(("Some", "strange", "items", "with", "bad / signs")) == REFERENCE_HASH
    custom = b2luigi.Parameter(hash_function=lambda value: f"h{len(value)}")
    assert custom.serialize_hashed("abc") == "h3"
    assert not hasattr(b2luigi.Parameter(), "serialize_hashed")


def test_bool_parameter_without_default_is_required(in_process_folders: Path) -> None:
    """A forgotten value is an error, not a silent False (b2luigi's BoolParameter); a default still works."""
    Flagged = make_task("Flagged", flag=b2luigi.BoolParameter(), other=b2luigi.BoolParameter(default=True))
    with pytest.raises(luigi.parameter.MissingParameterException, match="flag"):
        Flagged()
    assert folders_of(Flagged(flag=False), in_process_folders / "results") == ["flag=False", "other=True"]
    assert Flagged.from_str_params({"flag": "true"}).flag is True


WRAPPED = """
import sys
import luigi
{imports}
class Plain(luigi.Task):
    secret = luigi.Parameter(hidden=True)
    blob = luigi.ListParameter(hashed=True)
    n = luigi.IntParameter()

    def output(self):
        return {{}}

task = Plain(secret="s", blob=["a/b"], n=1)
print(b2core.utils.get_serialized_parameters(task))
"""


def test_plain_luigi_parameters_take_the_extras_only_after_wrap_parameter(tmp_path: Path) -> None:
    """wrap_parameter() (called by the b2luigi package) patches luigi.Parameter; importing b2core alone does not."""
    import subprocess
    import sys

    script = tmp_path / "plain.py"
    script.write_text(WRAPPED.format(imports="import b2core, b2core.utils\nb2core.wrap_parameter()\n"))
    wrapped = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert wrapped.returncode == 0, wrapped.stderr
    hashed = b2luigi.ListParameter(hashed=True).serialize_hashed(("a/b",))
    assert f"OrderedDict([('blob', '{hashed}'), ('n', '1')])" in wrapped.stdout
    script.write_text(WRAPPED.format(imports="import b2core, b2core.utils\n"))
    unwrapped = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert unwrapped.returncode != 0 and "unexpected keyword argument 'hidden'" in unwrapped.stderr
