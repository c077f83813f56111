"""``[filter:s3api]`` settings."""
from __future__ import annotations

from dataclasses import dataclass

from objstore.common.config import get_int

MiB = 1024 * 1024


@dataclass(frozen=True)
class S3Config:
    # the region this endpoint is: signatures must be made for it
    location: str = "us-east-1"
    # virtual-host-style addressing: <bucket>.<domain> for each of these domains
    storage_domains: tuple[str, ...] = ()
    max_keys: int = 1000              # the most keys one listing page returns
    max_delete_keys: int = 1000       # keys in one DeleteObjects
    min_part_size: int = 5 * MiB      # every multipart part but the last
    max_parts: int = 10000
    delete_concurrency: int = 16      # DeleteObjects' deletes in flight at once

    @classmethod
    def from_options(cls, options: dict[str, str]) -> "S3Config":
        domains = tuple(d.strip().strip(".").lower()
                        for d in options.get("storage_domain", "").split(",") if d.strip())
        return cls(
            location=options.get("location", cls.location).strip() or cls.location,
            storage_domains=domains,
            max_keys=get_int(options, "max_bucket_listing", cls.max_keys),
            min_part_size=get_int(options, "min_segment_size", cls.min_part_size),
            max_parts=get_int(options, "max_upload_part_num", cls.max_parts),
        )
