"""``tuneprep annotate label --engine ray``: a method's labeling spread over model replicas on a
Ray cluster (``tuneprep.ray_cluster.ReplicaPool``), the votes written by the local code.

Only a method that labels each record on its own (``Method.per_record``: lexicon, rules, knn,
llm) can be split; the records go out in consecutive chunks, every replica builds the labeler
from the same parameters and calls ``setup()`` (loads its model) once, and the votes come back
in input order to ``core.apply_votes``, as ``methods.annotate_records`` writes them. ``llm``'s
chunks are its own scoring chunks (``LlmLabeler.chunk_size``), so each record is scored in the
same batch as in one process: identical labels and scores. The ensemble (a label model fitted
on all votes together) is refused with an error naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tuneprep.annotate.core import AnnotateError, Vote, apply_votes
from tuneprep.annotate.methods import build_labeler, get_method
from tuneprep.ray_cluster import ReplicaPool, chunks

# Records per chunk for a method without a chunk size of its own (lexicon, rules, knn).
CHUNK = 512

_labeler: Any = None  # the replica's labeler (one per actor process)


def _init_replica(method: str, params: dict[str, Any] | BaseModel | None, labels: list[str] | None) -> None:
    global _labeler
    _labeler = build_labeler(method, params, labels)
    _labeler.setup()


def _label_chunk(records: list[dict[str, Any]]) -> list[Vote]:
    assert _labeler is not None
    return _labeler.label(list(records))


def annotate_records_ray(records: list[dict[str, Any]], method: str, labels: list[str] | None,
                         params: dict[str, Any] | BaseModel | None = None, overwrite: bool = False,
                         address: str | None = None, replicas: int | None = None,
                         threads: int = 1) -> list[dict[str, Any]]:
    """``methods.annotate_records`` with the labeling on ``replicas`` Ray actors of ``threads`` CPUs.

    ``address``: the cluster (default ``RAY_ADDRESS``, else Ray on this machine); ``replicas``:
    default the cluster's CPUs // ``threads``. Raises ``AnnotateError`` for a global method.
    """
    if not get_method(method).per_record:
        raise AnnotateError(f"{method}: cannot run with --engine ray: it labels all records together "
                            "(a label model fitted on every record's votes); use --engine local")
    # Built here too: bad parameters fail before the cluster is used, and the labeler says its chunk size.
    size = getattr(build_labeler(method, params, labels), "chunk_size", CHUNK)
    with ReplicaPool(_init_replica, (method, params, labels), replicas=replicas, threads=threads,
                     address=address) as pool:
        votes = [v for part in pool.map(_label_chunk, (), chunks(records, size)) for v in part]
    return apply_votes(records, votes, method, overwrite)
