"""objstore: a Swift-style distributed object store.

This package holds the storage nodes (object, container and account servers)
and, under ``objstore.common``, the small pieces every daemon shares:
timestamps, configuration, path hashing, storage policies, constraints,
logging, the WSGI server runner and the background daemon runner.
"""

import warnings

# eventlet prints a multi-line deprecation notice on import; operators cannot act on
# it, and it would open every daemon's log and every CLI run
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
