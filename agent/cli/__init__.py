"""The ``siemrelay`` command line: ``main`` builds the parser and dispatches; one module per command group.
"""
