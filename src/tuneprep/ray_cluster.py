"""Ray clusters for every verb that scales out: connecting, the cluster's CPUs, and a pool of
model replicas (one Ray actor each) that scores chunks and gives the results back in input order.

``tuneprep run --engine ray`` (``engine/ray.py``), ``tuneprep eval --engine ray``
(``evaluate/parallel.py``) and ``tuneprep annotate label --engine ray`` (``annotate/onray.py``)
connect here; see docs/scaling.md. The module sits low in the layers (it imports only
``errors``) so that both the engine and the annotation methods can use it. Ray is imported
inside the functions: it is an extra, and loading it takes seconds.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, Literal, get_args

from tuneprep.errors import TuneprepError

Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = get_args(Engine)
Exchange = Literal["auto", "files", "objects"]
"""How the Ray engine's stages pass records: ``files`` (tasks read and write a work directory every node
sees), ``objects`` (Ray Data and the object store), ``auto`` (files when they can; ``engine/ray_exchange.py``)."""
EXCHANGES: tuple[str, ...] = get_args(Exchange)

# How long a host:port address may take to accept a TCP connection before we call it unreachable:
# ray.init itself retries an unreachable GCS for minutes before it fails.
REACH_TIMEOUT_S = 5.0


class RayClusterError(TuneprepError, RuntimeError):
    """The Ray cluster cannot be reached or used (the message names the address and the cause)."""


def _check_reachable(address: str) -> None:
    """Fail fast, naming the address, when ``host:port`` (or ``ray://host:port``) accepts no connection."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise RayClusterError(f"Ray address {address!r}: expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as e:
        raise RayClusterError(f"cannot reach the Ray cluster at {address} (from --address or RAY_ADDRESS): "
                              f"{e.strerror or e}") from None


def connect(address: str | None = None) -> bool:
    """Connect to the cluster at ``address`` (else ``RAY_ADDRESS``, else a new local one).

    Returns True when this call started the connection (the caller then shuts it down); an
    already initialised Ray (a notebook, a test fixture) is used as it is.
    """
    try:
        import ray
    except ImportError as e:  # pragma: no cover - the extra is part of `all`
        raise RayClusterError("engine ray needs Ray Data: pip install 'tuneprep[ray]'") from e
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and address not in ("auto", "local"):
        _check_reachable(address)
    try:
        ray.init(address=address, include_dashboard=False if address is None else None,
                 logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, ValueError) as e:
        raise RayClusterError(f"cannot connect to the Ray cluster at {address or 'a new local instance'}: {e}") from None
    return True


def cluster_cpus() -> int:
    """The cluster's CPUs (at least 1): the Ray engine's number of workers."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def cluster_nodes() -> int:
    """Live nodes of the connected cluster."""
    import ray

    return sum(1 for n in ray.nodes() if n.get("Alive"))


def describe() -> str:
    """One line on the connected cluster: ``ray cluster: N nodes, M CPUs``."""
    nodes = cluster_nodes()
    return f"ray cluster: {nodes} node{'s' * (nodes != 1)}, {cluster_cpus()} CPUs"


def _read_probe(path: str) -> str | None:
    """Ray task: the contents of the probe file ``path`` as this node sees it (None: not there)."""
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def every_node_sees(directory: str | os.PathLike[str], timeout_s: float = 60.0) -> bool:
    """True when a file the driver writes in ``directory`` is read back, with its contents, by a task
    on every live node of the connected cluster: one machine, or a mount every node shares.

    The engine's work files can then be written and read by the tasks themselves
    (``engine/ray_exchange.py``); otherwise they travel through Ray's object store."""
    import secrets

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    created = not os.path.isdir(directory)
    os.makedirs(directory, exist_ok=True)
    token = secrets.token_hex(16)
    probe = os.path.join(directory, f".ray-probe-{token[:12]}")
    with open(probe, "w") as fh:
        fh.write(token)
    try:
        read = ray.remote(num_cpus=0, max_retries=1)(_read_probe)
        refs = [read.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(probe)
                for n in ray.nodes() if n.get("Alive")]
        return bool(refs) and all(seen == token for seen in ray.get(refs, timeout=timeout_s))
    finally:
        os.unlink(probe)
        if created:  # leave no empty output directory behind a run that then stops before writing
            os.rmdir(directory)


class TaskPool(Executor):
    """A ``concurrent.futures`` executor whose calls run as Ray tasks of one CPU each, on any node.

    A task whose worker process dies (killed, its node lost) is run again by Ray (``max_retries``),
    so the functions given must be idempotent: the engine's shard and group tasks rewrite their
    files whole. ``submit`` returns a standard ``Future``; the context manager's exit waits for none
    of them (the engine waits for each result it needs)."""

    def __init__(self, max_retries: int = 3):
        self.max_retries = max_retries
        self._remote: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:  # type: ignore[override]
        import ray

        if fn not in self._remote:
            self._remote[fn] = ray.remote(num_cpus=1, max_retries=self.max_retries)(fn)
        return self._remote[fn].remote(*args, **kwargs).future()


@contextmanager
def task_pool(workers: int) -> Iterator[TaskPool]:
    """``TaskPool`` in the shape of ``engine.forkpool.fork_pool`` (``workers``: the cluster schedules
    the tasks on its CPUs, so it bounds nothing here)."""
    yield TaskPool()


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items (the unit of work of a worker or replica)."""
    return [items[a:a + size] for a in range(0, len(items), size)]


class _Replica:
    """Ray actor: one model replica. ``init(*init_args)`` (loading the model) runs once, in the
    actor's own process, with ``threads`` CPU threads; each call then scores one chunk."""

    def __init__(self, threads: int, init: Callable[..., None], init_args: tuple[Any, ...]):
        os.environ["TUNEPREP_THREADS"] = str(threads)  # read by models.runtime.setup_torch at load
        self.error: TuneprepError | None = None
        try:
            init(*init_args)
        except TuneprepError as e:  # a user's error (an unknown model): the driver raises it as it is
            self.error = e

    def ready(self) -> TuneprepError | None:
        return self.error

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], chunk: Any) -> Any:
        return fn(*args, chunk)


def _replica_failed(e: Exception) -> RayClusterError:
    return RayClusterError(f"a model replica on the Ray cluster failed: {e}")


def _get(refs: list[Any]) -> list[Any]:
    """``ray.get``, with a replica that died (a crash, its node lost) as a :class:`RayClusterError`."""
    import ray
    from ray.exceptions import RayActorError

    try:
        return ray.get(refs)
    except RayActorError as e:
        raise _replica_failed(e) from None


class ReplicaPool:
    """``replicas`` actors on a Ray cluster, each with ``threads`` CPUs and one model replica.

    ``replicas`` defaults to as many as the cluster's CPUs hold: ``cluster CPUs // threads``
    (at least 1). Use as a context manager, or call :meth:`close`: the actors are ended and a
    Ray connection this pool opened is shut down.
    """

    def __init__(self, init: Callable[..., None], init_args: tuple[Any, ...], replicas: int | None = None,
                 threads: int = 1, address: str | None = None):
        import ray
        from ray.util import ActorPool

        self._started = connect(address)
        try:
            self.nodes, self.cpus = cluster_nodes(), cluster_cpus()
            self.threads = threads
            self.replicas = replicas or max(1, self.cpus // threads)
            actor = ray.remote(num_cpus=threads)(_Replica)
            self._actors = [actor.remote(threads, init, init_args) for _ in range(self.replicas)]
            # Every replica has loaded its model before the first chunk goes out; a model that
            # does not load fails here, with its own error.
            for err in _get([a.ready.remote() for a in self._actors]):
                if err is not None:
                    raise err
            self._pool = ActorPool(self._actors)
        except BaseException:
            self.close()
            raise

    def map(self, fn: Callable[..., Any], args: tuple[Any, ...], parts: Sequence[Any]) -> Iterator[Any]:
        """``fn(*args, part)`` on the replicas for every part; results yielded **in the order of
        ``parts``** as they become available (a replica takes the next part when it is free)."""
        from ray.exceptions import RayActorError

        try:
            yield from self._pool.map(lambda a, part: a.run.remote(fn, args, part), list(parts))
        except RayActorError as e:
            raise _replica_failed(e) from None

    def close(self) -> None:
        import ray

        for a in getattr(self, "_actors", []):
            ray.kill(a)
        self._actors = []
        if self._started:
            ray.shutdown()
            self._started = False

    def __enter__(self) -> ReplicaPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
