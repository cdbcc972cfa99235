"""What the spool raises, in a module without SQLite.

The intake catches :class:`SpoolFull` and :class:`SpoolClosed` around every submission,
so it imports them; the preparing child runs the same intake code but never spools, and
need not load ``sqlite3`` for two exception classes. :mod:`agent.spool.store` and
:mod:`agent.spool.db` re-export them where they always were.
"""

from __future__ import annotations

__all__ = ["SpoolError", "SpoolFull", "SpoolClosed"]


class SpoolError(Exception):
    """The spool cannot be used (unreadable, corrupt, locked, not writable)."""


class SpoolFull(Exception):
    """The spool is over its quota; the caller should push back and retry later."""


class SpoolClosed(Exception):
    """The spool is shutting down and takes no more writes."""
