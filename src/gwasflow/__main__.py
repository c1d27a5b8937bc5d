"""``python -m gwasflow`` is the ``gwasflow`` command."""

from gwasflow.cli import main

raise SystemExit(main())
