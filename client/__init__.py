"""The ``objstore`` user command-line client for any Swift-API endpoint."""
