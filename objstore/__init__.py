"""objstore: a Swift-style distributed object store.

This package holds the storage nodes (object, container and account servers)
and, under ``objstore.common``, the small pieces every daemon shares:
timestamps, configuration, path hashing, storage policies, constraints,
logging and the WSGI server runner.
"""
