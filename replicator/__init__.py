"""Background consistency daemons: replicators, auditors, updaters and expirers;
``replicator.recon`` (``objstore-recon``) is the operator's view of them."""

# objstore's package init silences eventlet's import-time deprecation notice;
# a daemon here may import eventlet before anything from objstore
import objstore  # noqa: F401
