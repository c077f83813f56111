"""Background consistency daemons: replicators, auditors, updaters and expirers."""
