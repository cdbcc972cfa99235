"""The durable spool in SQLite: the live store (``store``), the writer thread's operations
(``writes``), read views and the offline administrator's handle (``views``), schema and migrations (``db``).
"""
