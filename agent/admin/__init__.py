"""The admin side of a running agent: HTTP API, Prometheus metrics, status page, live taps.

``agent.admin.server.AdminServer`` is started by the supervisor when
``agent.admin.enabled`` is true; everything it shows is read from the supervisor's
live objects (see ``state.py``). This package imports nothing heavy at import time
so the configuration schema (``config.py``) can be loaded cheaply.
"""
