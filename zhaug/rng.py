"""Per-sample random generators.

Every random choice in zhaug comes from a generator derived from a key such as
(seed, row id, operation, copy index). There is no global RNG, so results do not
depend on processing order or on the number of workers.
"""

from __future__ import annotations

import random

from zhaug.hashing import derive_seed

__all__ = ["child_rng", "derive_rng", "derive_seed"]


def derive_rng(*key: object) -> random.Random:
    """A fresh ``random.Random`` seeded from ``key``, e.g. ``derive_rng(seed, row_id, "eda", copy)``."""
    return random.Random(derive_seed(*key))


def child_rng(rng: random.Random, name: str) -> random.Random:
    """A generator for a named sub-step, derived from ``rng`` without disturbing siblings' streams."""
    return derive_rng(rng.getrandbits(64), name)
