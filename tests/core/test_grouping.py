"""b2luigi's parameter grouping API: the flags, the folder names of grouped values, what packs together."""

from __future__ import annotations

import hashlib

import b2core
import pytest
from b2core.grouping import chunk_key, chunk_log_dir, grouping_size
from b2core.parameters import default_grouping


class Grouped(b2core.Task):
    max_grouping_size = 3
    number = b2core.BatchIntParameter(grouping=True)
    label = b2core.Parameter(default="a")


class Custom(b2core.Task):
    max_grouping_size = 2
    number = b2core.IntParameter(grouping_function=lambda values: "n" + "-".join(map(str, sorted(values))))


def test_grouped_values_are_named_as_b2luigi_names_them() -> None:
    """grouped_<values sorted as text>; past 25 characters grouped_<md5>."""
    assert default_grouping((3, 1, 2)) == "grouped_1_2_3"
    long = (1000001, 1000002, 1000003)
    expected = "grouped_" + hashlib.md5(str(("1000001", "1000002", "1000003")).encode()).hexdigest()
    assert default_grouping(long) == expected
    assert default_grouping(tuple(reversed(long))) == expected, "the same group, the same folder"


def test_grouped_param_names_and_has_grouped_params() -> None:
    """Only grouping=True parameters count; a grouping_function implies grouping."""
    assert Grouped.grouped_param_names() == ["number"]
    assert Grouped.has_grouped_params() and Custom.has_grouped_params()
    assert not b2core.Task.has_grouped_params()


def test_chunk_logs_are_named_by_the_grouped_values() -> None:
    """A chunk's log folder uses the grouped name for grouped parameters and the value for the others."""
    tasks = [Grouped(number=n) for n in (2, 0, 1)]
    assert chunk_log_dir(tasks).endswith("/number=grouped_0_1_2/label=a/Grouped/")
    assert chunk_log_dir([Custom(number=5), Custom(number=4)]).endswith("/number=n4-5/Custom/")


def test_only_tasks_differing_in_grouped_parameters_share_a_chunk() -> None:
    """Equal ungrouped parameters, equal chunk key; max_grouping_size sets the pack size."""
    assert chunk_key(Grouped(number=1)) == chunk_key(Grouped(number=2))
    assert chunk_key(Grouped(number=1)) != chunk_key(Grouped(number=1, label="b"))
    assert grouping_size(Grouped(number=1)) == 3
    assert grouping_size(b2core.Task()) == 1


def test_batch_int_parameter_values_are_not_folded_into_ranges() -> None:
    """luigi's summary asks next_in_enumeration; a BatchIntParameter has no successor."""
    assert b2core.BatchIntParameter().next_in_enumeration(3) is None


def test_grouping_function_must_take_one_argument() -> None:
    """Like hash_function: anything but one argument is refused at once."""
    with pytest.raises(ValueError, match="grouping_function must take exactly one argument"):
        b2core.IntParameter(grouping_function=lambda a, b: "x")
