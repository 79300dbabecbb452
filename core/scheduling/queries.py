"""Read-only queries of luigi's web UI: task list, dependency graphs, workers, resources."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable
from typing import Any

from b2core.scheduling.records import SchedTask
from luigi.scheduler import (
    STATUS_TO_UPSTREAM_MAP,
    TASK_FAMILY_RE,
    UPSTREAM_DISABLED,
    UPSTREAM_SEVERITY_KEY,
)
from luigi.task_status import DISABLED, DONE, PENDING, RUNNING, UNKNOWN

logger = logging.getLogger(__name__)


class Queries:
    """Mixin of LinearScheduler: the answers luigi's visualiser asks for."""

    def _catch_up(self) -> None:
        """Fire due retries and re-enables and drop dead workers before answering; luigi sweeps all tasks
        (prune) on every UI call, this leaves forgetting removed tasks to the sweep every minute."""
        self._tick(time.time())

    def _serialize_task(
        self, task: SchedTask, include_deps: bool = True, deps: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Same dict luigi's UI methods return for one task."""
        ret = {
            "display_name": task.pretty_id,
            "status": task.status,
            "workers": list(task.workers),
            "worker_running": task.worker_running,
            "time_running": task.time_running,
            "start_time": task.time,
            "last_updated": task.updated,
            "params": task.public_params,
            "name": task.family,
            "priority": task.priority,
            "resources": task.resources,
            "resources_running": task.resources_running,
            "tracking_url": task.tracking_url,
            "status_message": task.status_message,
            "progress_percentage": task.progress_percentage,
        }
        if task.status == DISABLED:
            ret["re_enable_able"] = task.scheduler_disable_time is not None
        if include_deps:
            ret["deps"] = list(task.deps if deps is None else deps)
        if self._config.send_messages and task.status == RUNNING:
            ret["accepts_messages"] = task.accepts_messages
        return ret

    def _traverse(
        self, root_id: str, dep_func: Any, include_done: bool = True, seen: set[str] | None = None
    ) -> dict[str, Any]:
        """Breadth-first serialisation of the graph below root_id, capped at max_graph_nodes."""
        seen = set() if seen is None else seen
        if root_id in seen:
            return {}
        seen.add(root_id)
        out: dict[str, Any] = {}
        queue = collections.deque([root_id])
        while queue:
            task_id = queue.popleft()
            task = self._tasks.get(task_id)
            if task is None or not task.family:
                match = TASK_FAMILY_RE.match(task_id)
                out[task_id] = {
                    "deps": [],
                    "status": UNKNOWN,
                    "workers": [],
                    "start_time": UNKNOWN,
                    "params": {"task_id": task_id},
                    "name": match.group(1) if match else UNKNOWN,
                    "display_name": task_id,
                    "priority": 0,
                }
            else:
                deps = list(dep_func(task))
                if not include_done:
                    deps = [d for d in deps if d not in self._tasks or self._tasks[d].status != DONE]
                out[task_id] = self._serialize_task(task, deps=deps)
                for dep in sorted(deps):
                    if len(seen) >= self._config.max_graph_nodes:
                        break  # the answer is cut there anyway; do not queue 10^5 ids to drop them
                    if dep not in seen:
                        seen.add(dep)
                        queue.append(dep)
            if task_id != root_id:
                out[task_id].pop("display_name", None)
            if len(out) >= self._config.max_graph_nodes:
                break
        return out

    def graph(self, **kwargs: Any) -> dict[str, Any]:
        """Whole task graph, serialised."""
        self._catch_up()
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for task_id in list(self._tasks):
            out.update(self._traverse(task_id, lambda t: t.deps, seen=seen))
        return out

    def dep_graph(self, task_id: str, include_done: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Graph below one task."""
        self._catch_up()
        if task_id not in self._tasks:
            return {}
        return self._traverse(task_id, lambda t: t.deps, include_done)

    def inverse_dep_graph(self, task_id: str, include_done: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Graph above one task, from the reverse-dependency lists."""
        self._catch_up()
        if task_id not in self._tasks:
            return {}
        return self._traverse(task_id, lambda t: t.rdeps or (), include_done)

    def _upstream_status(self, task_id: str, table: dict[str, str]) -> str:
        """luigi's upstream status of a task (worst status found through PENDING dependencies)."""
        if task_id in table:
            return table[task_id]
        stack: list[tuple[str, bool]] = [(task_id, False)]
        while stack:
            current, expanded = stack.pop()
            task = self._tasks.get(current)
            if task is None or task.status == DONE:
                table.setdefault(current, "")
                continue
            if expanded:
                table[current] = max((table.get(d, "") for d in task.deps), key=UPSTREAM_SEVERITY_KEY, default="")
                continue
            if current in table:
                continue
            if task.status == PENDING and task.deps:
                table[current] = ""
                stack.append((current, True))
                stack.extend((d, False) for d in task.deps if d not in table)
            else:
                table[current] = STATUS_TO_UPSTREAM_MAP.get(task.status, "")
        return table.get(task_id, "")

    def _search_matches(self, terms: list[str], status: str) -> list[SchedTask]:
        """Tasks (of the status, if given) whose casefolded display name holds every term; the names are
        kept while a task's params stay the same, so a search over 10^5 tasks is one tight loop."""
        texts = self._search_texts
        found = []
        for task in list(self._tasks.values()):
            if status and task.status != status:
                continue
            cached = texts.get(task.id)
            if cached is None or cached[0] is not task.params or cached[1] != task.family:
                cached = texts[task.id] = (task.params, task.family, _display_name(task).casefold())
            text = cached[2]
            for term in terms:
                if term not in text:
                    break
            else:
                found.append(task)
        return found

    def task_list(
        self,
        status: str = "",
        upstream_status: str = "",
        limit: bool = True,
        search: str | None = None,
        max_shown_tasks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Tasks filtered by status / upstream status / search terms, like luigi's UI query."""
        count_limit = max_shown_tasks or self._config.max_shown_tasks
        if not search:
            pre_count = self._status_count[status] if status else len(self._tasks)
            if limit and pre_count > count_limit:
                return {"num_tasks": -1 if upstream_status else pre_count}
        self._catch_up()
        terms = [term.casefold() for term in search.split()] if search else []
        table: dict[str, str] = {}
        result = {}
        candidates = self._search_matches(terms, status) if terms else list(self._tasks.values())
        for task in candidates:
            if status and task.status != status:
                continue
            if (
                task.status != PENDING
                or not upstream_status
                or upstream_status == self._upstream_status(task.id, table)
            ):
                result[task.id] = self._serialize_task(task, include_deps=False)
        if limit and len(result) > count_limit:
            return {"num_tasks": len(result)}
        return result

    def worker_list(self, include_running: bool = True, **kwargs: Any) -> list[dict[str, Any]]:
        """Workers with their running and pending task counts."""
        self._catch_up()
        num_pending: collections.Counter[str] = collections.Counter()
        num_uniques: collections.Counter[str] = collections.Counter()
        if include_running:
            for task in self._tasks.values():
                if task.status == PENDING and task.workers:
                    num_pending.update(task.workers)
                    if len(task.workers) == 1:
                        num_uniques[task.workers[0]] += 1
        out = []
        for w in self._workers.values():
            first = w.info.get("first_task", "")
            entry = dict(
                name=w.id,
                last_active=w.last_active,
                started=w.started,
                state=w.state,
                first_task_display_name=self._tasks[first].pretty_id if first in self._tasks else first,
                num_unread_rpc_messages=len(w.rpc_messages),
                **w.info,
            )
            if include_running:
                running = {
                    t.id: self._serialize_task(t, include_deps=False)
                    for t in self._running.values()
                    if t.worker_running == w.id
                }
                entry["num_running"] = len(running)
                entry["num_pending"] = num_pending[w.id]
                entry["num_uniques"] = num_uniques[w.id]
                entry["running"] = running
            out.append(entry)
        out.sort(key=lambda e: e["started"], reverse=True)
        return out

    def resources(self) -> dict[str, dict[str, int]]:
        """Total and used amount of every configured resource."""
        return {name: {"total": total, "used": self._used.get(name, 0)} for name, total in self._resources.items()}

    def resource_list(self) -> list[dict[str, Any]]:
        """Resources with the running tasks that hold them."""
        self._catch_up()
        out = []
        for name, r in self.resources().items():
            running = {
                t.id: self._serialize_task(t, include_deps=False)
                for t in self._running.values()
                if t.resources and name in t.resources
            }
            out.append(
                dict(
                    name=name,
                    num_total=r["total"],
                    num_used=r["used"],
                    num_consumer=len(running),
                    running=running,
                )
            )
        return out

    def task_search(self, task_str: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """Tasks whose id contains task_str, grouped by status."""
        self._catch_up()
        result: dict[str, dict[str, Any]] = collections.defaultdict(dict)
        for task in self._tasks.values():
            if task_str in task.id:
                result[task.status][task.id] = self._serialize_task(task, include_deps=False)
        return result

    def task_status(self, task_id: str) -> str | None:
        """Status of one task, or None if unknown (not part of luigi's interface)."""
        task = self._tasks.get(task_id)
        return task.status if task is not None else None

    def is_upstream_disabled(self, task_id: str) -> bool:
        """Whether luigi would report UPSTREAM_DISABLED for this task."""
        return self._upstream_status(task_id, {}) == UPSTREAM_DISABLED


def _display_name(task: SchedTask) -> str:
    """task.pretty_id, built directly from the params when none is hidden (the common case, 5x faster)."""
    if task.param_visibilities:
        return task.pretty_id
    return "{}({})".format(task.family, ", ".join(f"{k}={v}" for k, v in sorted(task.params.items())))
