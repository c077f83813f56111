"""Errors raised by the ring code; the CLI prints their message as one line."""


class RingError(Exception):
    """A ring file is missing, unreadable or inconsistent."""


class RingBuilderError(RingError):
    """A builder operation cannot be done as asked (bad value, unknown device...)."""
