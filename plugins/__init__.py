"""siemrelay's built-in plugins, one package per plugin (``in_*``, ``dec_*``, ``out_*``).

Each registers its types through the same hooks a third-party plugin uses.
"""
