"""StableHLO's process grid for the collectives, after the reference interpreter (ProcessGrid.cpp).

Outside `interpreter.run_parallel` a program runs as the single process (replica 0, partition 0)
of a 1x1 grid: collectives over groups of that one process are identities. `run_parallel` runs
each program of its grid in a thread with its own Process; collectives meet at a rendezvous keyed
by the op, its channel, its process group and how many such meetings each member has had.
"""
from __future__ import annotations

import re
import threading
from collections import defaultdict, deque

import numpy as np

from ...errors import ExecutionError

RENDEZVOUS_TIMEOUT = 30.0


def channel_id(attrs) -> int:
    ch = attrs.get("channel_handle")
    if ch is None:
        return 0
    if isinstance(ch, int):
        return ch
    m = re.search(r"handle\s*=\s*(-?\d+)", getattr(ch, "text", str(ch)))
    return int(m.group(1)) if m else 0


def groups_attr(attrs, name="replica_groups") -> list[list[int]]:
    g = attrs.get(name)
    if g is None:
        return []
    a = np.asarray(g)
    if a.ndim != 2:
        return []
    return [[int(x) for x in row if int(x) >= 0] for row in a]


class ProcessGrid:
    def __init__(self, num_replicas: int = 1, num_partitions: int = 1):
        self.num_replicas = num_replicas
        self.num_partitions = num_partitions
        self._cv = threading.Condition()
        self._meetings: dict = {}
        self._channels: dict[int, deque] = defaultdict(deque)
        self.outfeed: list = []
        self.infeed: deque = deque()

    # ---- process groups ------------------------------------------------------------------------
    def _all_replicas(self, groups):
        return groups or [list(range(self.num_replicas))]

    def _all_partitions(self, groups):
        return groups or [list(range(self.num_partitions))]

    def cross_replica(self, groups):
        return [[(r, p) for r in g] for g in self._all_replicas(groups) for p in range(self.num_partitions)]

    def cross_partition(self, groups):
        return [[(r, p) for p in g] for g in self._all_partitions(groups) for r in range(self.num_replicas)]

    def cross_replica_and_partition(self, groups):
        return [[(r, p) for p in range(self.num_partitions) for r in g] for g in self._all_replicas(groups)]

    def flattened_ids(self, groups):
        return [[(i // self.num_partitions, i % self.num_partitions) for i in g] for g in groups]

    def groups_for(self, attrs, kind: str):
        """kind: 'reduce' (all_gather/all_reduce/reduce_scatter/collective_reduce) or 'permute'
        (all_to_all/collective_permute/collective_broadcast)."""
        ch = channel_id(attrs)
        groups = groups_attr(attrs)
        if kind == "permute":
            return self.cross_replica(groups) if ch <= 0 else self.cross_partition(groups)
        use_global = bool(attrs.get("use_global_device_ids", False))
        if ch <= 0 and not use_global:
            return self.cross_replica(groups)
        if ch > 0 and not use_global:
            return self.cross_replica_and_partition(groups)
        return self.flattened_ids(groups)

    # ---- meetings -------------------------------------------------------------------------------
    def rendezvous(self, key, group: list, me, value):
        """Every member of `group` contributes a value; each gets {member: value}."""
        if len(group) == 1:
            return {me: value}
        outside = [p for p in group if not (0 <= p[0] < self.num_replicas and 0 <= p[1] < self.num_partitions)]
        if outside:
            raise ExecutionError(f"the process group {group} names processes outside the "
                                 f"{self.num_replicas}x{self.num_partitions} process grid: {outside}")
        full = (key, tuple(group))
        with self._cv:
            slot = self._meetings.setdefault(full, {"values": {}, "readers": 0})
            slot["values"][me] = value
            self._cv.notify_all()
            if not self._cv.wait_for(lambda: len(slot["values"]) == len(group), RENDEZVOUS_TIMEOUT):
                raise ExecutionError(f"collective timed out waiting for processes "
                                     f"{sorted(set(group) - set(slot['values']))}")
            result = dict(slot["values"])
            slot["readers"] += 1
            if slot["readers"] == len(group):
                del self._meetings[full]
        return result

    def send(self, channel: int, values):
        with self._cv:
            self._channels[channel].append(values)
            self._cv.notify_all()

    def recv(self, channel: int):
        with self._cv:
            if not self._cv.wait_for(lambda: self._channels[channel], RENDEZVOUS_TIMEOUT):
                raise ExecutionError(f"recv on channel {channel} timed out")
            return self._channels[channel].popleft()


class Process:
    def __init__(self, grid: ProcessGrid, replica_id: int = 0, partition_id: int = 0):
        self.grid = grid
        self.id = (replica_id, partition_id)
        self._counts: dict = defaultdict(int)

    @property
    def replica_id(self) -> int:
        return self.id[0]

    @property
    def partition_id(self) -> int:
        return self.id[1]

    def exists(self, pid) -> bool:
        return 0 <= pid[0] < self.grid.num_replicas and 0 <= pid[1] < self.grid.num_partitions

    def my_group(self, groups, what: str):
        for g in groups:
            if self.id in g:
                return g
        return None

    def meet(self, opcode: str, attrs, group, value):
        key = (opcode, channel_id(attrs))
        n = self._counts[(key, tuple(group))]
        self._counts[(key, tuple(group))] += 1
        return self.grid.rendezvous(key + (n,), group, self.id, value)


def parse_programs(raw) -> list[list[str]]:
    """`[[@a, @b], [@c, @d]]` -> [['a', 'b'], ['c', 'd']] (rows: replicas, columns: partitions)."""
    text = getattr(raw, "text", raw)
    if isinstance(text, (list, tuple)):
        return [[str(s).lstrip("@") for s in row] for row in text]
    rows = re.findall(r"\[([^\[\]]*)\]", str(text))
    return [[s.strip().lstrip("@") for s in row.split(",") if s.strip()] for row in rows]
