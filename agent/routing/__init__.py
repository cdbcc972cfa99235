"""Routes: conditions compiled once (``conditions``, ``operators``, ``thresholds``), the router that
fans events out to sinks (``router``), per-route transforms, and route test cases (``cases``).
"""
