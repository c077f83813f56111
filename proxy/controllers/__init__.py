"""Per-resource request handlers of the proxy: account, container, object."""
