"""gwasflow.commands: what the ``gwasflow`` command drives, on top of every other package.

``launch`` (start, resume, retry and cancel a run: validate-to-driver wiring, workspace, staging,
publishing), ``control`` (ask a live driver to retry jobs), ``status``, ``runfolder`` (failures, logs,
metrics, verify and report of a run folder), ``server`` (the live dashboard), ``progress`` (the terminal
displays of a running graph), ``demo`` and ``selftest``.
Nothing below imports this package.
"""
