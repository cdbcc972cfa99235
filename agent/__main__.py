"""``python -m agent`` is ``siemrelay``."""

from agent.cli.main import main

raise SystemExit(main())
