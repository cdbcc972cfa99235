"""The durable spool in SQLite: the live store (``store``), the writer thread's operations
(``writes``), read views shared by the agent and the CLI (``views``), the offline
administrator's handle (``admin``), schema and migrations (``db``).
"""
