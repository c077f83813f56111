"""Swauth-style authentication: accounts, users and tokens kept in the cluster itself.

``middleware`` is the proxy filter; ``store`` the layout in the hidden
``<reseller_prefix>.auth`` account; ``keys`` key hashing; ``tokens`` tokens and
their per-worker validation cache; ``login`` the ``/auth/v1.0`` endpoint;
``admin`` Swauth's ``/auth/v2`` admin API; ``keystone`` the Keystone v3 token API;
``cleanup`` the expired-token pass.
"""
