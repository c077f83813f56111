"""Authentication and authorization middleware for the proxy."""
