"""Run the command-line interface: ``python -m afterbeat``."""

from afterbeat.cli import main

raise SystemExit(main())
