"""Header name lists with ``*`` prefix patterns, as Swift's middleware configure them
(``x-object-meta-*`` removes every object metadata header)."""
from __future__ import annotations


class HeaderPatterns:
    """Names (lower-case) and ``prefix*`` patterns; ``matches(name)`` is case-insensitive."""

    def __init__(self, spec: str | list[str]) -> None:
        words = spec.split() if isinstance(spec, str) else spec
        self.words = [word.lower() for word in words]
        self.names = frozenset(w for w in self.words if not w.endswith("*"))
        self.prefixes = tuple(w[:-1] for w in self.words if w.endswith("*"))

    def matches(self, name: str) -> bool:
        name = name.lower()
        return name in self.names or name.startswith(self.prefixes)


class HeaderRemoval:
    """Headers to remove (``remove``) unless excepted (``allow``)."""

    def __init__(self, remove: str | list[str], allow: str | list[str] = "") -> None:
        self.remove = HeaderPatterns(remove)
        self.allow = HeaderPatterns(allow)

    def removes(self, name: str) -> bool:
        return self.remove.matches(name) and not self.allow.matches(name)

    def clean_environ(self, environ: dict) -> None:
        """Drop the matching request headers (``HTTP_X_TIMESTAMP`` is ``x-timestamp``)."""
        for key in [k for k in environ if k.startswith("HTTP_")]:
            if self.removes(key[5:].replace("_", "-")):
                del environ[key]

    def clean_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, value) for name, value in headers if not self.removes(name)]
