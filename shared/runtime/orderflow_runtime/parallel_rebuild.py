"""A read-model rebuild spread over worker processes, one share of the aggregates each.

For read models that are all `per_aggregate` (each row follows one aggregate's events):
the tables are reset, each worker, a forked process on connections of its own, projects
the events of its share of the aggregates (`Projections.project_share`), and once every
worker has finished the lookup indexes are built and the positions recorded. Decoding
and projecting are Python work bound to one core per process; shares use the others.

While the workers run, the positions read `UNFINISHED_REBUILD`; a worker that fails fails
the rebuild and its tables are emptied (positions 0). Should the whole rebuild die (a
kill), the next catch-up finds `UNFINISHED_REBUILD` and starts the read models over: no
half-built table is ever taken as current.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
from multiprocessing.queues import Queue
from typing import TYPE_CHECKING

from sqlalchemy import Index

if TYPE_CHECKING:
    from orderflow_runtime.projections import BatchListener, Projections

_POLL_S = 0.2
_ENDED = -1
"""The events-read field of a worker's last message, once its share is projected."""
UNFINISHED_REBUILD = -1
"""The position of read models being rebuilt in shares: their tables are partly built, so
whoever projects next starts them over."""


class RebuildWorkerError(RuntimeError):
    """A worker process of a parallel rebuild failed (its error is in the message)."""


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def rebuild_in_shares(
    projections: Projections,
    *,
    workers: int,
    stop: int,
    batch_size: int | None,
    on_batch: BatchListener | None,
) -> int:
    """Reset, project `workers` shares in as many processes, record `stop`; events read."""
    projections.reset()
    projections.set_positions(UNFINISHED_REBUILD)  # until every share is done
    deferred = _lookup_indexes(projections)
    for index in deferred:
        index.drop(projections.engine)
    context = multiprocessing.get_context("fork")  # the parent's modules, no re-import
    progress: Queue[tuple[int, int, int | str]] = context.Queue()
    processes = [
        context.Process(
            target=_work,
            args=(projections, share, workers, stop, batch_size, progress),
            name=f"rebuild-share-{share}",
            daemon=True,
        )
        for share in range(workers)
    ]
    for process in processes:
        process.start()
    positions, errors, total = [0] * workers, [], 0
    ended: set[int] = set()
    try:
        # Until each worker said it ended (not until it exits: no poll's wait after the
        # last message), or none is left alive to say so (killed).
        while len(ended) < workers and (
            any(p.is_alive() for p in processes) or not progress.empty()
        ):
            try:
                share, read, detail = progress.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if isinstance(detail, str):
                errors.append(f"share {share}: {detail}")
                ended.add(share)
                continue
            if read == _ENDED:
                ended.add(share)
                continue
            total += read
            positions[share] = detail
            if on_batch is not None and read:
                on_batch(read, min(positions))
    except BaseException:
        for process in processes:
            process.terminate()  # interrupted: no worker goes on writing
        raise
    finally:
        for process in processes:
            process.join()
    failed = [p.name for p in processes if p.exitcode != 0]
    if errors or failed:
        projections.reset()  # no half-built table left (else the next catch-up resets it)
        raise RebuildWorkerError("; ".join(errors) or f"{', '.join(failed)} failed")
    for index in deferred:
        index.create(projections.engine)
    projections.set_positions(stop)
    return total


def _lookup_indexes(projections: Projections) -> list[Index]:
    """The read models' secondary indexes that do not enforce uniqueness: built once over
    the finished tables instead of row by row (a rebuild killed before that resets the
    tables, indexes included; so does a failed one)."""
    return [
        index
        for model in projections.models
        for table in model.metadata.sorted_tables
        for index in sorted(table.indexes, key=lambda index: str(index.name))
        if not index.unique
    ]


def _work(
    projections: Projections,
    share: int,
    shares: int,
    stop: int,
    batch_size: int | None,
    progress: Queue[tuple[int, int, int | str]],
) -> None:
    """In the forked worker: the parent's read models, on new connections."""
    # The parent's heap is the worker's too: never scanned by this process's collector
    # (a large host process, a benchmark, made each collection walk all of it).
    gc.freeze()
    try:
        projections.engine.dispose(close=False)  # a pool of its own; the parent's stay open
        recorder = projections.app.new_recorder()
        projections.project_share(
            share,
            shares,
            stop=stop,
            batch_size=batch_size,
            recorder=recorder,
            on_batch=lambda read, position: progress.put((share, read, position)),
        )
        progress.put((share, _ENDED, stop))
    except BaseException as error:
        progress.put((share, 0, repr(error)))
        raise
