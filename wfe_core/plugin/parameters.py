"""attrs field validators for plugins' parameter classes.

A validator raises ``ValueError``; the core turns it into a problem naming the step and
the parameters (``steps[1].parameters: step 'a': invalid value: timeout must be ...``).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["positive_seconds"]


def positive_seconds(instance: Any, attribute: Any, value: float | None) -> None:
    """A finite number of seconds greater than 0, or ``None`` (not given).

    ``timeout: float | None = attrs.field(default=None, validator=positive_seconds)``.
    Zero, negatives, ``inf`` and ``nan`` are refused: a wait of ``nan`` seconds would
    compare false with every deadline.
    """
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value}")
