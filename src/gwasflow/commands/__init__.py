"""gwasflow.commands: what the ``gwasflow`` command drives, on top of every other package.

``launch`` (start, resume, retry and cancel a run: validate-to-driver wiring, workspace, staging,
publishing), ``control`` (ask a live driver to retry jobs), ``status``, ``runfolder`` (failures, logs,
metrics, verify and report of a run folder), ``server`` (the live dashboard), ``progress`` (the terminal
displays of a running graph), ``demo`` and ``selftest``; the handlers of ``gwasflow``'s subcommands, each
``cmd_<name>(args) -> exit code``: ``run`` (validate, plan, run, demo), ``rerun`` (resume, retry, cancel),
``folder`` (status, failures, logs, metrics, verify, report, serve), ``tools`` (simulate, qc,
executor-settings, export, export-sumstats, loci).
Nothing below imports this package.
"""
