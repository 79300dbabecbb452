"""Benchmark workflows (fan-in, chain, diamond, shared roots) written against luigi's or b2core's Task API."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import luigi


@dataclass
class Workload:
    """Task classes of one API plus helpers to read/write their single output file."""

    leaf: type
    total: type
    chain: type
    middle: type
    top: type
    shared_root: type
    output_path: Any


def _luigi_classes(out_dir: str) -> Workload:
    """Plain luigi.Task classes with LocalTarget outputs under out_dir."""

    def target(*parts: Any) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(out_dir, *map(str, parts)))

    def read(t: luigi.LocalTarget) -> str:
        with t.open() as f:
            return f.read()

    class Leaf(luigi.Task):
        i = luigi.IntParameter()

        def output(self) -> luigi.LocalTarget:
            return target("leaf", self.i // 1000, f"{self.i}.txt")

        def run(self) -> None:
            with self.output().open("w") as f:
                f.write(str(self.i))

    class Sum(luigi.Task):
        n = luigi.IntParameter()

        def requires(self) -> list[Leaf]:
            return [Leaf(i=i) for i in range(self.n)]

        def output(self) -> luigi.LocalTarget:
            return target(f"sum_{self.n}.txt")

        def run(self) -> None:
            total = sum(int(read(t)) for t in self.input())
            with self.output().open("w") as f:
                f.write(str(total))

    class Chain(luigi.Task):
        i = luigi.IntParameter()

        def requires(self) -> Any:
            return Chain(i=self.i - 1) if self.i > 0 else []

        def output(self) -> luigi.LocalTarget:
            return target("chain", self.i // 1000, f"{self.i}.txt")

        def run(self) -> None:
            with self.output().open("w") as f:
                f.write(str(self.i))

    class Middle(luigi.Task):
        i = luigi.IntParameter()
        n = luigi.IntParameter()

        def requires(self) -> list[Leaf]:
            return [Leaf(i=self.i), Leaf(i=(self.i + 1) % self.n)]

        def output(self) -> luigi.LocalTarget:
            return target("middle", self.i // 1000, f"{self.i}.txt")

        def run(self) -> None:
            with self.output().open("w") as f:
                f.write("+".join(read(t) for t in self.input()))

    class Top(luigi.Task):
        n = luigi.IntParameter()

        def requires(self) -> list[Middle]:
            return [Middle(i=i, n=self.n) for i in range(self.n)]

        def output(self) -> luigi.LocalTarget:
            return target(f"top_{self.n}.txt")

        def run(self) -> None:
            with self.output().open("w") as f:
                f.write(str(len(self.input())))

    class SharedRoot(luigi.Task):
        j = luigi.IntParameter()
        depth = luigi.IntParameter()

        def requires(self) -> Chain:
            return Chain(i=self.depth - 1)

        def output(self) -> luigi.LocalTarget:
            return target("root", f"{self.j}.txt")

        def run(self) -> None:
            with self.output().open("w") as f:
                f.write(read(self.input()))

    return Workload(Leaf, Sum, Chain, Middle, Top, SharedRoot, lambda task: task.output().path)


def _b2core_classes(out_dir: str) -> Workload:
    """The same workflows with b2core.Task, add_to_output and get_input_file_names."""
    import b2core

    b2core.set_setting("result_dir", out_dir)

    def read(path: str) -> str:
        with open(path) as f:
            return f.read()

    def write(task: Any, text: str) -> None:
        path = task.get_output_file_name("out.txt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    class Leaf(b2core.Task):
        i = b2core.IntParameter()

        def output(self) -> Any:
            yield self.add_to_output("out.txt")

        def run(self) -> None:
            write(self, str(self.i))

    class Sum(b2core.Task):
        n = b2core.IntParameter()

        def requires(self) -> Any:
            for i in range(self.n):
                yield Leaf(i=i)

        def output(self) -> Any:
            yield self.add_to_output("out.txt")

        def run(self) -> None:
            write(self, str(sum(int(read(p)) for p in self.get_input_file_names("out.txt"))))

    class Chain(b2core.Task):
        i = b2core.IntParameter()

        def requires(self) -> Any:
            if self.i > 0:
                yield Chain(i=self.i - 1)

        def output(self) -> Any:
            yield self.add_to_output("out.txt")

        def run(self) -> None:
            write(self, str(self.i))

    class Middle(b2core.Task):
        i = b2core.IntParameter()
        n = b2core.IntParameter()

        def requires(self) -> Any:
            yield Leaf(i=self.i)
            yield Leaf(i=(self.i + 1) % self.n)

        def output(self) -> Any:
            yield self.add_to_output("out.txt")

        def run(self) -> None:
            write(self, "+".join(read(p) for p in self.get_input_file_names("out.txt")))

    class Top(b2core.Task):
        n = b2core.IntParameter()

        def requires(self) -> Any:
            for i in range(self.n):
                yield Middle(i=i, n=self.n)

        def output(self) -> Any:
            yield self.add_to_output("out.txt")

        def run(self) -> None:
            write(self, str(len(self.get_input_file_names("out.txt"))))

    class SharedRoot(b2core.Task):
        j = b2core.IntParameter()
        depth = b2core.IntParameter()

        def requires(self) -> Any:
            yield Chain(i=self.depth - 1)

        def output(self) -> Any:
            yield self.add_to_output("out.txt")

        def run(self) -> None:
            write(self, read(self.get_input_file_name("out.txt")))

    def output_path(task: Any) -> str:
        return next(iter(task.get_all_output_file_names()))

    return Workload(Leaf, Sum, Chain, Middle, Top, SharedRoot, output_path)


def fan_in_floor(n: int, out_dir: str) -> None:
    """The fan-in's cost floor on this machine: its file work with no framework, in b2core's layout.

    Per leaf what any framework that keeps outputs atomic must do (the existence check, the folder, the
    leaf's own write to a temporary name as the b2core workload's run() does it, the rename), then the
    sum reads every leaf's file and writes its own.
    """
    paths = []
    for i in range(n):
        path = os.path.join(out_dir, f"i={i}", "out.txt")
        if not os.path.exists(path):
            os.mkdir(os.path.dirname(path))
            _write_atomically(path, str(i))
        paths.append(path)
    total = 0
    for path in paths:
        with open(path) as f:
            total += int(f.read())
    os.mkdir(os.path.join(out_dir, f"n={n}"))
    _write_atomically(os.path.join(out_dir, f"n={n}", "out.txt"), str(total))


def _write_atomically(path: str, text: str) -> None:
    temporary = path + ".tmp"
    os.makedirs(os.path.dirname(temporary), exist_ok=True)  # the workload's run() makes sure too
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)


def make_workload(api: str, out_dir: str) -> Workload:
    """Task classes for api 'luigi' or 'b2core' writing below out_dir."""
    if api == "b2core":
        return _b2core_classes(out_dir)
    if api == "luigi":
        return _luigi_classes(out_dir)
    raise ValueError(f"unknown task API {api!r}")


def roots(scenario: str, n: int, w: Workload) -> list[Any]:
    """The tasks handed to luigi.build for a scenario; n is the scenario's size parameter."""
    if scenario == "fan-in":
        return [w.total(n=n)]
    if scenario == "rerun":
        # every task as a root (as a script listing all its tasks would do): luigi checks each
        # complete() and the scheduler receives every task; a lone finished root would be trivial
        return [w.leaf(i=i) for i in range(n)] + [w.total(n=n)]
    if scenario == "chain":
        return [w.chain(i=n - 1)]
    if scenario == "diamond":
        return [w.top(n=n)]
    if scenario == "shared-roots":
        return [w.shared_root(j=j, depth=n) for j in range(n // 5)]
    raise ValueError(f"unknown scenario {scenario!r}")


def task_count(scenario: str, n: int) -> int:
    """Number of tasks in the scenario's workflow."""
    return {
        "fan-in": n + 1,
        "rerun": n + 1,
        "chain": n,
        "diamond": 2 * n + 1,
        "shared-roots": n + n // 5,
    }[scenario]


def prepare_complete(scenario: str, n: int, w: Workload) -> None:
    """Write every output of the workflow directly, so that everything is complete."""
    assert scenario == "rerun"
    tasks = [w.leaf(i=i) for i in range(n)] + [w.total(n=n)]
    for task in tasks:
        path = w.output_path(task)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("0")
