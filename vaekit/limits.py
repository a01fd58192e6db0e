"""What this machine can hold: requests whose memory is known before allocating are checked against it, and
refused in one line that names the value, rather than ending in the allocator's traceback or in swap."""
from __future__ import annotations

import math
import os


def physical_memory() -> int:
    """Bytes of memory on this machine (16 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def memory_budget() -> int:
    """The most one request may take: half of the machine's memory."""
    return physical_memory() // 2


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def check_fits(nbytes: float, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` when ``nbytes`` exceed :func:`memory_budget`."""
    if nbytes > memory_budget():
        raise ValueError(f"{what} needs {gigabytes(nbytes)} of memory; this machine has {gigabytes(physical_memory())} "
                         f"(at most half of it is used for one request)")


MNIST_ELEMENTS = 784  # the batch sizes below were chosen on 28x28 images


def rows_within(rows: int, example_shape: tuple[int, ...]) -> int:
    """How many examples of ``example_shape`` to process at once: as many elements as ``rows`` MNIST images, so
    a pass over 64x64 colour images (15.7 times MNIST's elements) takes the memory it takes on MNIST."""
    elements = math.prod(example_shape) if example_shape else 1
    return max(1, min(rows, rows * MNIST_ELEMENTS // max(1, elements)))
