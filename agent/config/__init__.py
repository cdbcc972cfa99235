"""Configuration: loading YAML with line tracking (``loader``), the schemas (``schema``, ``admin``),
validation into an ``AgentConfig`` (``validate``), the generated reference (``reference``),
exposure warnings (``exposure``).
"""
