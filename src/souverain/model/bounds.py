"""The range of whole numbers the service that reads a setting really accepts, and why.

Used as ``Annotated[int, within(low, high, why)]``: a value outside is refused with a message
that gives the range and the reason, never rendered into a service's configuration.
"""

from __future__ import annotations

from pydantic import AfterValidator

MIB_PER_TIB = 1024 * 1024
GIB_PER_PIB = 1024 * 1024
SECONDS_PER_YEAR = 365 * 24 * 3600


def _shown(value: int) -> str:
    text = str(abs(value))
    if len(text) > 15:
        return f"a number of {len(text)} digits"
    return f"{value:,}"


def within(low: int, high: int, why: str) -> AfterValidator:
    """A validator that refuses an int outside [low, high], saying the range and ``why``."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low:,} and {high:,} (got {_shown(value)}): {why}")
        return value

    return AfterValidator(check)
