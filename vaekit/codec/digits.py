"""A symbol in [0, 2^bits) coded as two digits, high then low, each under a categorical of at most
2^ceil(bits/2) values: the same joint distribution as one categorical over 2^bits values, at a small
fraction of the cost (a 256-value pixel needs 32 CDF evaluations instead of 255).

The distribution is given by ``masses(edges)``: for edge indices in [0, 2^bits] of shape (rows, E),
or (1, E) when all rows share them, the probability between consecutive edges (rows, E - 1). Rows
whose masses all but vanish (below :data:`TINY`, far in a tail) are coded uniformly, and every value gets at least
:data:`LEAK` of its row's mass: a confident model's float32 masses can underflow to zero for the value that occurs.
"""
from __future__ import annotations

from collections.abc import Callable

import constriction
import numpy as np
import torch

from vaekit.codec import portable_math as pm

Masses = Callable[[torch.Tensor], torch.Tensor]


def bits_for(levels: int) -> int:
    """The bits of a symbol taking ``levels`` values (2 for 4 grey levels, 8 for 256; unused symbols get no mass)."""
    return max(1, (levels - 1).bit_length())
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
TINY = 1e-30  # a row of masses summing to less (subnormal floats) is coded uniformly: constriction cannot scale it
LEAK = 2.0**-20  # of a row's mass added to each value, so a value the model deems impossible still codes (in ~20 bits)


class TwoDigits:
    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.low_bits = bits // 2
        self.high_size, self.low_size = 1 << (bits - self.low_bits), 1 << self.low_bits

    def _table(self, masses: Masses, edges: torch.Tensor) -> np.ndarray:
        table = masses(edges).double()
        total = pm.ordered_sum(table, -1)[..., None]
        return torch.where(total > TINY, table + total * LEAK, 1.0).numpy()

    def _high_table(self, masses: Masses) -> np.ndarray:
        return self._table(masses, (torch.arange(self.high_size + 1) * self.low_size)[None])  # the same for every row

    def _low_table(self, masses: Masses, high: np.ndarray) -> np.ndarray:
        start = torch.from_numpy(high.astype(np.int64))[:, None] * self.low_size
        return self._table(masses, start + torch.arange(self.low_size + 1))

    def decode(self, coder: constriction.stream.stack.AnsCoder, masses: Masses) -> np.ndarray:
        """Pop one symbol (int32) per row of ``masses``."""
        high = coder.decode(_CATEGORICAL, self._high_table(masses))
        if self.low_bits == 0:
            return high
        return high * self.low_size + coder.decode(_CATEGORICAL, self._low_table(masses, high))

    def encode(self, coder: constriction.stream.stack.AnsCoder, symbols: np.ndarray, masses: Masses) -> None:
        """Push ``symbols`` (rows,) so that :meth:`decode` pops them again."""
        high, low = np.divmod(symbols.astype(np.int32), self.low_size)
        if self.low_bits:
            coder.encode_reverse(low, _CATEGORICAL, self._low_table(masses, high))
        coder.encode_reverse(high, _CATEGORICAL, self._high_table(masses))
