"""The Task API of b2luigi: outputs by name, inputs by name, clone, requires/inherits, External and Wrapper tasks."""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path

import b2core as b2luigi
import luigi
import pytest
from b2core import task as b2luigi_task
from b2core.task import NotCompletedTask


class Producer(b2luigi.Task):
    """Two named outputs per parameter value."""

    n = b2luigi.IntParameter()
    flavour = b2luigi.Parameter(default="plain")

    def output(self):
        yield self.add_to_output("a.txt")
        yield self.add_to_output("b.txt")


class Consumer(b2luigi.Task):
    """Requires three producers (a generator requires, as in b2luigi's examples)."""

    flavour = b2luigi.Parameter(default="plain")

    def requires(self):
        for n in range(3):
            yield self.clone(Producer, n=n)


class DictConsumer(b2luigi.Task):
    """requires() returning a dict."""

    def requires(self):
        return {"low": Producer(n=1), "high": Producer(n=2, flavour="spicy")}


def result(folders: Path, *parts: str) -> str:
    """A path below the in-process result folder."""
    return str(folders.joinpath("results", *parts))


def test_add_to_output_returns_a_named_local_target(in_process_folders: Path) -> None:
    """add_to_output gives {name: LocalTarget(path)} for use with yield in output()."""
    outputs = Producer(n=1).add_to_output("a.txt")
    assert list(outputs) == ["a.txt"]
    assert isinstance(outputs["a.txt"], b2luigi.LocalTarget)
    assert outputs["a.txt"].path == result(in_process_folders, "n=1", "flavour=plain", "a.txt")


def test_add_to_output_passes_target_class_and_kwargs() -> None:
    """target_class and extra keyword arguments go to the target."""

    class Recording(luigi.LocalTarget):
        def __init__(self, path: str, marker: str = "") -> None:
            super().__init__(path)
            self.marker = marker

    target = Producer(n=1).add_to_output("c.txt", target_class=Recording, marker="m")["c.txt"]
    assert isinstance(target, Recording) and target.marker == "m"


def test_get_output_file_name_and_all_outputs(in_process_folders: Path) -> None:
    """Outputs are found by their add_to_output name; unknown names raise naming the task."""
    task = Producer(n=2)
    assert task.get_output_file_name("b.txt") == result(in_process_folders, "n=2", "flavour=plain", "b.txt")
    assert list(task.get_all_output_file_names()) == [
        result(in_process_folders, "n=2", "flavour=plain", "a.txt"),
        result(in_process_folders, "n=2", "flavour=plain", "b.txt"),
    ]
    with pytest.raises(KeyError, match=r"c\.txt"):
        task.get_output_file_name("c.txt")


def test_get_input_file_names_groups_inputs_by_output_name(in_process_folders: Path) -> None:
    """{name: [paths of every required task]}, or the list for one name, in requirement order."""
    task = Consumer()
    by_name = task.get_input_file_names()
    assert sorted(by_name) == ["a.txt", "b.txt"]
    expected = [result(in_process_folders, f"n={n}", "flavour=plain", "a.txt") for n in range(3)]
    assert by_name["a.txt"] == expected
    assert task.get_input_file_names("a.txt") == expected
    assert sorted(task.get_all_input_file_names()) == sorted(expected + by_name["b.txt"])
    with pytest.raises(KeyError, match=r"missing\.txt"):
        task.get_input_file_names("missing.txt")


def test_get_input_file_names_from_dict_requires(in_process_folders: Path) -> None:
    """For a dict requires(), inputs of one requirement by its key."""
    task = DictConsumer()
    assert task.get_input_file_names_from_dict("high") == {
        "a.txt": [result(in_process_folders, "n=2", "flavour=spicy", "a.txt")],
        "b.txt": [result(in_process_folders, "n=2", "flavour=spicy", "b.txt")],
    }
    assert task.get_input_file_names_from_dict("low", "b.txt") == [
        result(in_process_folders, "n=1", "flavour=plain", "b.txt")
    ]
    merged = task.get_input_file_names("a.txt")
    assert len(merged) == 2


def test_plain_luigi_targets_are_keyed_by_file_name(tmp_path: Path) -> None:
    """Inputs from tasks whose output() is a plain target are found by the target's base name."""

    class PlainLuigi(luigi.ExternalTask):
        def output(self):
            return luigi.LocalTarget(str(tmp_path / "deep" / "plain.root"))

    class UsesPlain(b2luigi.Task):
        def requires(self):
            return [PlainLuigi(), Producer(n=1)]

    task = UsesPlain()
    assert task.get_input_file_names("plain.root") == [str(tmp_path / "deep" / "plain.root")]
    assert sorted(task.get_input_file_names()) == ["a.txt", "b.txt", "plain.root"]


def test_get_input_file_name_wants_exactly_one() -> None:
    """A single input by name; more than one is an error."""
    task = DictConsumer()
    with pytest.raises(ValueError, match="exactly one"):
        task.get_input_file_name("a.txt")

    class Single(b2luigi.Task):
        def requires(self):
            return Producer(n=5)

    assert Single().get_input_file_name("a.txt").endswith("n=5/flavour=plain/a.txt")


def test_clone_copies_shared_parameters_and_applies_overrides() -> None:
    """clone() passes on parameters both classes have; keywords override."""
    consumer = Consumer(flavour="spicy")
    clone = consumer.clone(Producer, n=4)
    assert (clone.n, clone.flavour) == (4, "spicy")
    assert [t.flavour for t in consumer.requires()] == ["spicy"] * 3


def test_requires_with_fixed_keyword_values() -> None:
    """@requires(Task, key=value) copies the other parameters and fixes the given ones."""

    @b2luigi.requires(Producer, n=7)
    class Fixed(b2luigi.Task):
        pass

    params = dict(Fixed.get_params())
    assert "flavour" in params and "n" not in params
    required = Fixed(flavour="sour").requires()
    tasks = list(required) if not isinstance(required, luigi.Task) else [required]
    assert tasks == [Producer(n=7, flavour="sour")]


def test_requires_keeps_existing_requirements_and_accepts_several_tasks() -> None:
    """The decorated class's own requires() is kept; several tasks give a list of clones."""

    class Other(b2luigi.Task):
        n = b2luigi.IntParameter()

    @b2luigi.requires(Producer, Other)
    class Several(b2luigi.Task):
        def requires(self):
            yield Producer(n=99)

    task = Several(n=1)
    requirements = list(luigi.task.flatten(task.requires()))
    assert requirements == [Producer(n=99), Producer(n=1), Other(n=1)]
    assert len(task.get_input_file_names("a.txt")) == 2


def test_inherits_without_and_clone_parent() -> None:
    """@inherits copies parameters except `without`, and adds clone_parent()/clone_parents()."""

    @b2luigi.inherits(Producer, without="n")
    class Child(b2luigi.Task):
        pass

    params = dict(Child.get_params())
    assert "flavour" in params and "n" not in params
    child = Child(flavour="sweet")
    assert child.clone_parent(n=3) == Producer(n=3, flavour="sweet")
    assert child.clone_parents(n=4) == [Producer(n=4, flavour="sweet")]
    assert not list(luigi.task.flatten(child.requires()))


def test_luigi_batching_settings_are_left_alone() -> None:
    """A user's max_batch_size is kept (b2luigi silently overwrote it, reference bug #7)."""

    class Batched(b2luigi.Task):
        max_batch_size = 5

    assert Batched.max_batch_size == 5


def test_external_and_wrapper_tasks(in_process_folders: Path) -> None:
    """ExternalTask is complete when its output exists; WrapperTask when its requirements are."""

    class Raw(b2luigi.ExternalTask):
        def output(self):
            yield self.add_to_output("raw.dat")

    class Group(b2luigi.WrapperTask):
        def requires(self):
            yield Raw()

    assert isinstance(Raw(), luigi.ExternalTask) and isinstance(Group(), luigi.WrapperTask)
    assert not Raw().complete() and not Group().complete()
    path = Path(Raw().get_output_file_name("raw.dat"))
    path.parent.mkdir(parents=True)
    path.write_text("data")
    assert path == in_process_folders / "results" / "raw.dat"
    assert Raw().complete() and Group().complete()


def test_task_api_through_a_real_run(workflow) -> None:
    """The seeds' number/average pair, an ExternalTask input and a dict requires, run by a steering script."""
    workflow.write_json("results/raw.dat", "10\n")
    workflow.write(
        """
        import b2core as b2luigi

        class Raw(b2luigi.ExternalTask):
            def output(self):
                yield self.add_to_output("raw.dat")

        class MyNumberTask(b2luigi.Task):
            some_parameter = b2luigi.IntParameter()

            def requires(self):
                return Raw()

            def output(self):
                yield self.add_to_output("output_file.txt")

            def run(self):
                offset = float(open(self.get_input_file_names("raw.dat")[0]).read())
                with open(self.get_output_file_name("output_file.txt"), "w") as f:
                    f.write(f"{self.some_parameter + offset}\\n")

        class MyAverageTask(b2luigi.Task):
            def requires(self):
                for i in range(4):
                    yield self.clone(MyNumberTask, some_parameter=i)

            def output(self):
                yield self.add_to_output("average.txt")

            def run(self):
                numbers = [float(open(p).read()) for p in self.get_input_file_names("output_file.txt")]
                with open(self.get_output_file_name("average.txt"), "w") as f:
                    f.write(f"{sum(numbers) / len(numbers)}\\n")

        class Report(b2luigi.Task):
            def requires(self):
                return {"avg": MyAverageTask(), "first": MyNumberTask(some_parameter=0)}

            def output(self):
                yield self.add_to_output("report.txt")

            def run(self):
                avg = self.get_input_file_names_from_dict("avg", "average.txt")[0]
                first = self.get_input_file_names_from_dict("first")["output_file.txt"][0]
                with open(self.get_output_file_name("report.txt"), "w") as f:
                    f.write(open(avg).read().strip() + " " + open(first).read().strip())

        class All(b2luigi.WrapperTask):
            def requires(self):
                yield Report()

        if __name__ == "__main__":
            b2luigi.set_setting("result_dir", "results")
            b2luigi.process(All(), workers=2)
        """
    )
    run = workflow.run()
    assert run.returncode == 0, run
    results = workflow.path / "results"
    assert (results / "average.txt").read_text() == "11.5\n"
    assert (results / "report.txt").read_text() == "11.5 10.0"
    assert sorted(workflow.files("results")) == sorted(
        ["results/raw.dat", "results/average.txt", "results/report.txt"]
        + [f"results/some_parameter={i}/output_file.txt" for i in range(4)]
    )


def test_parameters_added_after_class_creation_are_seen() -> None:
    """Parameter lists are cached per class, but a parameter set later (as inherits does) still counts."""

    class Source(b2luigi.Task):
        y = b2luigi.IntParameter(default=2)

    class Grows(b2luigi.Task):
        x = b2luigi.IntParameter()

    assert [name for name, _ in Grows.get_params()] == ["x"]
    b2luigi.inherits(Source)(Grows)
    assert sorted(name for name, _ in Grows.get_params()) == ["x", "y"]
    assert Grows(x=1).y == 2


def test_add_to_output_by_keyword(in_process_folders: Path, tmp_path: Path) -> None:
    """b2luigi's keyword names: output_file_name, target_class, result_dir, target kwargs."""
    outputs = Producer(n=1).add_to_output(
        output_file_name="k.txt", target_class=b2luigi.LocalTarget, result_dir=str(tmp_path), format=luigi.format.Nop
    )
    assert outputs["k.txt"].path == str(tmp_path / "n=1" / "flavour=plain" / "k.txt")
    assert outputs["k.txt"].format is luigi.format.Nop


def test_get_input_targets_by_name_and_key_error_for_unknown_names(in_process_folders: Path) -> None:
    task = Consumer()
    targets = task._get_input_targets("a.txt")
    assert [t.path for t in targets] == task.get_input_file_names("a.txt")
    with pytest.raises(KeyError, match=r"missing\.txt.*'a\.txt', 'b\.txt'"):
        task._get_input_targets("missing.txt")


def test_remove_output_deletes_files_and_folders_through_the_chosen_target(in_process_folders: Path) -> None:
    """_remove_output(target_class=None, result_dir=None, **kwargs) removes what output() declares."""
    removed: list[str] = []

    class Recording(b2luigi.LocalTarget):
        def remove(self) -> None:
            removed.append(self.path)
            super().remove()

    task = Producer(n=7)
    for name in task.get_all_output_file_names():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("x")
    task._remove_output(target_class=Recording)
    assert removed == list(task.get_all_output_file_names())
    assert not any(Path(name).exists() for name in task.get_all_output_file_names())
    task._remove_output()  # already gone: nothing to do, no error


def test_inherits_ignores_keywords_it_does_not_know() -> None:
    @b2luigi.inherits(Producer, without=["n"], unknown_option=True)
    class Child(b2luigi.Task):
        pass

    assert [name for name, _ in Child.get_params()] == ["flavour"]


def test_not_completed_task_is_complete_only_with_its_requirements(in_process_folders: Path) -> None:
    """NotCompletedTask: own outputs and every requirement; check_complete=False looks at its own outputs only."""

    class Summary(NotCompletedTask):
        def requires(self):
            yield Producer(n=8)

        def output(self):
            yield self.add_to_output("summary.txt")

    summary = Summary()
    path = Path(summary.get_output_file_name("summary.txt"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("stale")
    assert not summary.complete()
    summary.check_complete = False
    assert summary.complete()
    summary.check_complete = True
    for name in Producer(n=8).get_all_output_file_names():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("x")
    assert summary.complete()


SHARED_OUTPUTS = """
import os
import b2core as b2luigi


class Part(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write(str(self.number))


class Sneaky(b2luigi.Task):
    def output(self):
        yield self.add_to_output(os.environ["NAME"])

    def run(self):
        open(self.get_output_file_name(os.environ["NAME"]), "w").close()


class All(b2luigi.WrapperTask):
    def requires(self):
        yield Part(number=1)
        yield Sneaky()


if __name__ == "__main__":
    b2luigi.process(All())
"""


@pytest.mark.parametrize("name", ["", ".", "number=1/out.txt", "number=1"])
def test_an_output_name_that_is_no_file_or_another_tasks_file_is_refused(workflow, name: str) -> None:
    """'' and '.' name no file; another task's file (or its folder) would make Sneaky complete for free."""
    workflow.write(SHARED_OUTPUTS)
    assert workflow.run(env={"NAME": "own.txt"}).returncode == 0
    run = workflow.run(env={"NAME": name})
    assert run.returncode == 1, run
    expected = "names no file" if name in ("", ".") else "Part_1_"
    assert expected in run.stderr and "Sneaky" in run.stderr, run
    removal = workflow.run("--remove-only", "Sneaky", "-y", env={"NAME": name})
    assert removal.returncode == 2, removal
    assert (workflow.path / "number=1" / "out.txt").read_text() == "1"


def test_repr_is_luigis() -> None:
    """--dry-run and --remove print tasks with repr(): luigi's Task.__repr__ text, insignificant parameters left out."""

    class ReprShown(b2luigi.Task):
        number = b2luigi.IntParameter()
        items = b2luigi.ListParameter(default=[1, 2])
        hidden = b2luigi.Parameter(default="x", significant=False)
        options = b2luigi.DictParameter(default={"k": [1]})

    task = ReprShown(number=3)
    assert repr(task) == str(task) == luigi.Task.__repr__(task)
    assert repr(task) == 'ReprShown(number=3, items=[1, 2], options={"k": [1]})'


class EveryKind(b2luigi.Task):
    """Parameters of each kind luigi normalises or serialises differently, for the instantiation checks."""

    number = b2luigi.IntParameter()
    text = b2luigi.Parameter(default='ünï/cödé "q"')
    items = b2luigi.ListParameter(default=[3, [1, 2]])
    options = b2luigi.DictParameter(default={"b": 1, "a": [2]})
    day = b2luigi.DateParameter(default=datetime.date(2024, 2, 29))
    flag = b2luigi.BoolParameter(default=False)
    maybe = b2luigi.OptionalIntParameter(default=None)
    quiet = b2luigi.Parameter(default="q", significant=False)
    private = b2luigi.Parameter(default="p", visibility=luigi.parameter.ParameterVisibility.PRIVATE)
    hidden = b2luigi.Parameter(default="h", visibility=luigi.parameter.ParameterVisibility.HIDDEN)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"number": 1},
        {"number": 2, "text": "x" * 40, "items": [1, "2", {"k": "v"}], "flag": True, "maybe": 4},
        {"number": 3, "options": {"z": {"y": [1]}}, "day": datetime.date(2000, 1, 1), "quiet": "loud"},
    ],
)
def test_instances_are_luigis(kwargs: dict) -> None:
    """b2core's instantiation gives what luigi's Task.__init__ and get_param_values give: values, attributes, id."""
    task = EveryKind(**kwargs)
    params = EveryKind.get_params()
    assert list(task.param_kwargs.items()) == luigi.Task.get_param_values.__func__(EveryKind, params, (), kwargs)
    shown = luigi.Task.to_str_params(task, only_significant=True, only_public=True)
    assert task.task_id == luigi.task.task_id_str("EveryKind", shown)
    assert hash(task) == hash(task.task_id)
    by_luigi = object.__new__(EveryKind)
    luigi.Task.__init__(by_luigi, **kwargs)
    assert vars(by_luigi) == vars(task)
    for only_significant, only_public in itertools.product((False, True), repeat=2):
        assert task.to_str_params(only_significant, only_public) == luigi.Task.to_str_params(
            task, only_significant, only_public
        )
    assert EveryKind(**kwargs) is task is EveryKind(*[kwargs.pop("number")], **kwargs)


def test_instantiation_errors_and_warnings_are_luigis() -> None:
    """Unknown or missing parameters raise luigi's errors; config defaults apply and unused options warn."""
    with pytest.raises(luigi.parameter.UnknownParameterException, match=r"EveryKind\[.*unknown parameter colour"):
        EveryKind(number=1, colour="red")
    with pytest.raises(luigi.parameter.MissingParameterException, match="requires the 'number' parameter"):
        EveryKind(text="t")
    with pytest.warns(luigi.parameter.OptionalParameterTypeWarning):
        EveryKind(number=5, maybe="five")
    config = luigi.configuration.get_config()
    config.add_section("EveryKind")
    try:
        config.set("EveryKind", "text", "from-config")
        config.set("EveryKind", "unused_option", "1")
        with pytest.warns(luigi.parameter.UnconsumedParameterWarning, match="unused_option"):
            task = EveryKind(number=6)
        assert task.text == "from-config"
    finally:
        config.remove_section("EveryKind")
    assert EveryKind(number=6).text != "from-config"  # a default is not remembered across config changes


class IterableTask(b2luigi.Task):
    """A task luigi's flatten() iterates (it defines __iter__): flattened into what it yields."""

    def __iter__(self):
        yield Producer(n=8)


TARGETS = [luigi.LocalTarget(path) for path in ("/x", "/y", "/z")]  # the same objects on both sides


@pytest.mark.parametrize(
    "make",
    [
        lambda: None,
        lambda: "text",
        lambda: Producer(n=1),
        lambda: TARGETS[0],
        lambda: [Producer(n=1), None, "s", b"ab", 3, (Producer(n=2), [TARGETS[1]])],
        lambda: {"a": Producer(n=1), "b": {"c": [TARGETS[2], None]}, "d": "e"},
        lambda: (task for task in [Producer(n=3), [Producer(n=4)], {"k": Producer(n=5)}]),
        lambda: [IterableTask(), range(2), {1, 2}],
        lambda: IterableTask(),
    ],
)
def test_flatten_is_luigis(make) -> None:
    """b2core's flatten (walks, complete()) answers as luigi.task.flatten for every kind of structure."""
    assert b2luigi_task.flatten(make()) == luigi.task.flatten(make())


def test_complete_is_luigis(in_process_folders: Path) -> None:
    """complete(): every output exists; no outputs warns as luigi does; WrapperTask keeps luigi's own."""
    task = Producer(n=11)
    assert not task.complete()
    for path in task.get_all_output_file_names():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("x")
    assert task.complete()

    class NoOutputs(b2luigi.Task):
        pass

    with pytest.warns(UserWarning, match=r"Task NoOutputs\(\) without outputs has no custom complete"):
        assert not NoOutputs().complete()

    class Wraps(b2luigi.WrapperTask):
        def requires(self):
            return Producer(n=11)

    assert Wraps().complete()
