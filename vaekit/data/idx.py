"""The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a magic number, dimensions, raw bytes."""
from __future__ import annotations

import numpy as np
import torch


def parse_idx(content: bytes) -> torch.Tensor:
    """Decode an unsigned-byte IDX file into a uint8 tensor of its declared shape."""
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] != 0x08:
        raise ValueError("not an unsigned-byte IDX file (bad magic number)")
    ndim = content[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(content) != header + int(np.prod(shape)):
        raise ValueError(f"IDX file holds {len(content) - header} bytes, its header declares shape {shape}")
    return torch.from_numpy(np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape).copy())
