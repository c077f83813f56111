"""Requests the proxy makes to itself: sub-requests, large-object segment streaming, the internal client."""
