"""Branch workflows: the branch selection syntax, branch data, and the command-line flags' errors."""

from __future__ import annotations

import b2core
import pytest
from b2core.errors import B2CoreError
from b2core.workflow import parse_branches, with_branch_flags


class Squares(b2core.Workflow, b2core.Task):
    def create_branch_map(self):
        return {number: number * number for number in range(5)}


def test_branch_selections_are_numbers_and_inclusive_ranges() -> None:
    assert parse_branches("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_branches(" 2 , 2-3 ") == [2, 3]


@pytest.mark.parametrize(("text", "problem"), [("x", "neither a branch number"), ("3-1", "runs backwards")])
def test_bad_branch_selections_name_the_flag(text: str, problem: str) -> None:
    with pytest.raises(B2CoreError, match=f"--branches '{text}'.*{problem}"):
        parse_branches(text)


def test_each_branch_is_a_task_with_its_data_and_the_workflow_has_none() -> None:
    workflow = Squares()
    assert workflow.is_workflow and [t.branch for t in workflow.branch_tasks()] == [0, 1, 2, 3, 4]
    assert Squares(branch=3).branch_data == 9
    with pytest.raises(B2CoreError, match="only a branch has branch_data"):
        _ = workflow.branch_data
    with pytest.raises(B2CoreError, match="has no branch 9"):
        Squares(branches="1,9").branch_tasks()


def test_branch_flags_apply_to_workflows_and_need_one() -> None:
    assert with_branch_flags([Squares()], 2, "") == [Squares(branch=2)]
    assert [t.branch for t in with_branch_flags([Squares()], None, "1-2")[0].branch_tasks()] == [1, 2]
    with pytest.raises(B2CoreError, match="--branch needs a workflow task"):
        with_branch_flags([b2core.Task()], 1, "")
