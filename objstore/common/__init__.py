"""Shared building blocks used by every objstore daemon and tool."""
