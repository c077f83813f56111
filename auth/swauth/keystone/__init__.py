"""A Keystone v3-compatible token API over the Swauth-style store, for OpenStack clients.

``request`` reads a ``POST /v3/auth/tokens`` body; ``documents`` builds the
JSON Keystone answers with (version discovery, tokens, errors); ``api`` is
the endpoint itself, mounted by the swauth filter at ``/auth/v3`` and ``/v3``.
"""
