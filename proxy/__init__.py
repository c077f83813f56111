"""The proxy server: the Swift v1 API, routing by the ring, and its middleware pipeline."""
