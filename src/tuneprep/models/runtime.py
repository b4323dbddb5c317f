"""Process-level settings for running models on this kind of machine (CPU threads, allocator, device).

Why the allocator matters: on CPU, PyTorch gets every tensor from glibc malloc. glibc raises its
mmap threshold each time a large mmapped block is freed, so after a few steps large buffers of a
training or scoring loop are carved from the heap instead; with sequence shapes that change
every batch (real text) the heap can fragment and RSS keep growing (NOTES.md measured 24 GB
before the OOM killer). We pin the threshold at 8 MiB: the really big buffers (full-vocabulary
logits, their softmax) always live on mmap and go back to the OS when freed, while the many
per-layer activations (a few MiB) are reused from the heap. A 1 MiB threshold was measured
~1.4x slower per training step (every activation became a fresh, page-faulted mapping).
Shapes are also bucketed (padding to a multiple of 8 or 16 tokens) and ``release_memory``
trims the heap between phases (after a scoring pass, after training).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache
from typing import Any

# glibc mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


@lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.mallopt  # noqa: B018 - probe: musl and others lack it
        lib.malloc_trim  # noqa: B018
        return lib
    except (OSError, AttributeError):
        return None


@lru_cache(maxsize=1)
def configure_allocator(mmap_threshold: int = 8 << 20) -> bool:
    """Pin glibc's mmap/trim thresholds and cap arenas; returns False where glibc is absent.

    Idempotent. Allocations of ``mmap_threshold`` bytes or more are served by mmap and returned
    to the OS on free; ``MALLOC_ARENA_MAX`` in the environment, if set, is respected.
    """
    lib = _libc()
    if lib is None:
        return False
    lib.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
    lib.mallopt(_M_TRIM_THRESHOLD, int(8 * mmap_threshold))
    if "MALLOC_ARENA_MAX" not in os.environ:
        lib.mallopt(_M_ARENA_MAX, 2)
    return True


def release_memory() -> None:
    """Give freed heap memory back to the OS (call between phases, e.g. after a scoring pass)."""
    import gc

    gc.collect()
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)


def default_threads() -> int:
    """min(2, cores), or 1 when the machine is already busy (1-min load average >= cores).

    Measured on a shared 2-core machine: with other jobs running, two OpenMP threads per
    process spend most of their time waiting at barriers for a descheduled sibling; a LoRA step
    took ~50 s with 2 threads and ~4.5 s with 1 thread under the same load (~2.5 s idle, 2 threads).
    Label scoring (``tuneprep eval``, 96 SST-2 records, 1 and 2 threads interleaved in one
    process, 3 runs each, load average 10-32 on 2 cores; 2026-12-02): median 0.44 records/s with
    1 thread, 0.19 with 2. No idle-machine measurement of eval exists yet (the machine was never
    idle during the work); the 2-thread idle case comes from training.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cores
    except OSError:  # pragma: no cover - no load average on this platform
        busy = False
    return 1 if busy else min(2, cores)


def setup_torch(threads: int | None = None) -> str:
    """Configure torch for this process and return the device to use: ``"cuda"`` or ``"cpu"``.

    On CPU the thread count is ``threads``, else ``$TUNEPREP_THREADS``, else ``default_threads()``;
    the allocator is configured (see module docstring).
    """
    import torch

    configure_allocator()
    if torch.cuda.is_available():
        return "cuda"
    if threads is None:
        threads = int(os.environ.get("TUNEPREP_THREADS", "0")) or default_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return "cpu"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux ru_maxrss is KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / (1 << 20)
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
