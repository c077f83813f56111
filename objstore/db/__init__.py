"""The LMDB listing store shared by the container and account servers.

``store`` opens one LMDB environment per device and kind and batches writers
into group commits; ``keys`` maps names to order-preserving LMDB keys;
``query`` runs listing queries with cursor range scans; ``schema`` holds the
per-kind record merge rules; ``broker`` is the per-database API the servers and
the replicator use; ``server`` is the WSGI request handling both servers share.
"""
