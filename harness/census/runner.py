"""Running a census: every set-up counted in worker processes, each row stored the moment it is known.

**Resumable.** Rows are appended to ``census.jsonl`` (one JSON object per line, flushed and synced), and a
re-run reads that file first and counts only the set-ups whose key is not there: a killed census loses at
most the rows that were running. A torn last line (the kill came mid-write) is ignored and recomputed.

**Bounded.** Each set-up runs in a worker process (one per core by default, one thread each); a set-up that
runs past ``timeout`` seconds is stopped by ending its worker, and its row is *inconclusive* with that
reason, never missing and never a hang. A worker that dies is replaced; its set-up's row says so (status
``error``). Bad set-ups (a group that does not fit) are rows with status ``invalid`` and the message.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from harness.census.grid import Setup
from harness.errors import InvalidInput

ROWS_FILE = "census.jsonl"
STATUSES = ("conclusive", "inconclusive", "invalid", "error")


@dataclass(frozen=True)
class CensusRow:
    """What the census learned about one set-up: the count and its evidence, or why there is none."""

    key: str
    arch: str
    group: str | None
    data: str
    loss: str
    seed: int
    status: str  # one of STATUSES
    reason: str = ""
    D: int | None = None
    laws: int | None = None
    free_laws: int | None = None
    extra_laws: int | None = None
    certificate: str | None = None
    stop_reason: str | None = None
    method: str | None = None
    lie_rank_by_level: tuple[int, ...] = ()
    sizes: dict = field(default_factory=dict)  # the spec's numbers by name (n1, n2, ..., and KEY= items)
    group_order: int | None = None
    group_fixed_inputs: int | None = None  # dim of the inputs every element fixes: (1/|G|) Σ tr ρ_in(g)
    seconds: float = 0.0
    replay: str = ""

    def to_dict(self) -> dict:
        record = asdict(self)
        record["lie_rank_by_level"] = list(self.lie_rank_by_level)
        return record

    @classmethod
    def from_dict(cls, record: dict) -> CensusRow:
        known = {name: record[name] for name in cls.__dataclass_fields__ if name in record}
        known["lie_rank_by_level"] = tuple(known.get("lie_rank_by_level") or ())
        return cls(**known)


def _sizes(arch: str) -> dict:
    body = arch.split(":", 1)[1] if ":" in arch else ""
    sizes, position = {}, 0
    for item in body.split(","):
        key, _, value = item.rpartition("=")
        try:
            number = float(value) if "." in value else int(value)
        except ValueError:
            continue
        if key:
            sizes[key] = number
        else:
            position += 1
            sizes[f"n{position}"] = number
    return sizes


def count_row(setup: Setup, *, max_depth: int = 8, method: str = "auto") -> CensusRow:
    """Count one set-up (in the calling process): its row, whatever happens short of the process dying."""
    from harness.laws.counting import count_laws
    from harness.model.groups import build_group
    from harness.model.specs import parse_network

    start = time.perf_counter()
    common: dict[str, Any] = {
        "key": setup.key,
        "arch": setup.arch,
        "group": setup.group,
        "data": setup.data,
        "loss": setup.loss,
        "seed": setup.seed,
        "sizes": _sizes(setup.arch),
        "replay": setup.replay(),
    }
    try:
        network = parse_network(setup.arch)
        group = build_group(setup.group, network) if setup.group else None
        order = fixed = None
        if group is not None:
            order = group.order
            fixed = round(sum(float(np.trace(g)) for g in group.inputs) / group.order)
        count = count_laws(
            network,
            setup.data,
            setup.loss,
            group,
            seed=setup.seed,
            max_depth=max_depth,
            method=method,
            find_explicit=False,
        )
    except InvalidInput as error:
        return CensusRow(**common, status="invalid", reason=str(error), seconds=time.perf_counter() - start)
    except Exception as error:  # a bug, not a bad set-up: kept as a row so that the census says where
        return CensusRow(
            **common, status="error", reason=f"{type(error).__name__}: {error}", seconds=time.perf_counter() - start
        )
    return CensusRow(
        **common,
        group_order=order,
        group_fixed_inputs=fixed,
        status="conclusive" if count.conclusive else "inconclusive",
        reason="" if count.conclusive else f"{count.stop_reason.value}: {count.stop_reason.message}",
        D=count.D,
        laws=count.laws,
        free_laws=count.free_laws,
        extra_laws=count.extra_laws,
        certificate=None if count.certificate is None else count.certificate.value,
        stop_reason=count.stop_reason.value,
        method=count.method.value,
        lie_rank_by_level=tuple(count.lie_rank_by_level),
        seconds=time.perf_counter() - start,
    )


# --- the store ---------------------------------------------------------------------------------------------


def load_rows(folder: Path) -> dict[str, CensusRow]:
    """The rows stored under ``folder`` by key (a torn last line is skipped: that set-up runs again)."""
    rows: dict[str, CensusRow] = {}
    path = folder / ROWS_FILE
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = CensusRow.from_dict(json.loads(line))
        except (ValueError, TypeError, KeyError):
            continue
        rows[row.key] = row
    return rows


def _append(handle, row: CensusRow) -> None:
    handle.write(json.dumps(row.to_dict(), allow_nan=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


# --- workers -----------------------------------------------------------------------------------------------


def _worker(connection: Connection, options: dict) -> None:
    from harness import environment

    environment.configure()  # one thread per process, the project's Numba cache
    while True:
        setup = connection.recv()
        if setup is None:
            return
        connection.send(count_row(setup, **options))


@dataclass
class _Slot:
    process: BaseProcess
    connection: Connection
    setup: Setup | None = None
    started: float = 0.0


def _start(context, options) -> _Slot:
    parent, child = context.Pipe()
    process = context.Process(target=_worker, args=(child, options), daemon=True)
    process.start()
    child.close()
    return _Slot(process, parent)


def _stop(slot: _Slot) -> None:
    if slot.process.is_alive():
        slot.process.terminate()
    slot.process.join(5)
    if slot.process.is_alive():
        slot.process.kill()
        slot.process.join()
    slot.connection.close()


def run_census(
    setups: list[Setup],
    folder: Path,
    *,
    workers: int,
    timeout: float | None = None,
    on_row: Callable[[CensusRow], None] | None = None,
    **options,
) -> dict[str, CensusRow]:
    """Count every set-up not yet stored under ``folder``; returns all rows of ``setups`` (stored and new)."""
    folder.mkdir(parents=True, exist_ok=True)
    stored = load_rows(folder)
    todo = [setup for setup in setups if setup.key not in stored]
    if not todo:
        return {s.key: stored[s.key] for s in setups}
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited Numba or torch threads
    slots = [_start(context, options) for _ in range(max(1, min(workers, len(todo))))]
    pending = list(reversed(todo))
    try:
        with (folder / ROWS_FILE).open("a", encoding="utf-8") as handle:

            def finish(row: CensusRow) -> None:
                stored[row.key] = row
                _append(handle, row)
                if on_row is not None:
                    on_row(row)

            while pending or any(slot.setup is not None for slot in slots):
                for slot in slots:
                    if slot.setup is None and pending:
                        slot.setup, slot.started = pending.pop(), time.monotonic()
                        slot.connection.send(slot.setup)
                busy = [slot for slot in slots if slot.setup is not None]
                for connection in wait([slot.connection for slot in busy], timeout=0.25):
                    slot = next(s for s in busy if s.connection is connection)
                    try:
                        row = slot.connection.recv()
                    except (EOFError, OSError):
                        row = _lost(slot, "the worker process died")
                        index = slots.index(slot)
                        _stop(slot)
                        slots[index] = _start(context, options)
                    else:
                        slot.setup = None
                    finish(row)
                for index, slot in enumerate(slots):
                    if slot.setup is not None and timeout is not None and time.monotonic() - slot.started > timeout:
                        row = _lost(slot, f"timeout: no result within --timeout {timeout:g} s", "inconclusive")
                        _stop(slot)
                        slots[index] = _start(context, options)
                        finish(row)
    finally:
        for slot in slots:
            if slot.process.is_alive() and slot.setup is None:
                try:
                    slot.connection.send(None)
                except OSError:
                    pass
            _stop(slot)
    return {s.key: stored[s.key] for s in setups if s.key in stored}


def _lost(slot: _Slot, reason: str, status: str = "error") -> CensusRow:
    setup = slot.setup
    assert setup is not None
    seconds = time.monotonic() - slot.started
    slot.setup = None
    return CensusRow(
        key=setup.key,
        arch=setup.arch,
        group=setup.group,
        data=setup.data,
        loss=setup.loss,
        seed=setup.seed,
        status=status,
        reason=reason,
        sizes=_sizes(setup.arch),
        seconds=seconds,
        replay=setup.replay(),
    )
