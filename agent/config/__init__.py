"""Configuration: loading YAML with line tracking (``loader``), the schemas (``schema``, ``admin``),
validation and the generated reference (``reference``), exposure warnings (``exposure``).
"""
