"""WSGI middleware for the proxy pipeline."""
