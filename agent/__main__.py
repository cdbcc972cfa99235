"""``python -m agent`` is ``siemrelay``."""

from agent.cli import main

raise SystemExit(main())
