"""Device records and the text forms admins type for them.

Add values:    ``r1z1-127.0.0.1:6200R127.0.0.1:6300/sdb_meta`` (region, replication
address and meta are optional).
Search values: any prefix-ordered subset of
``d<id>r<region>z<zone>-<ip>:<port>R<ip>:<port>/<device>_<meta>``, or just an ip.
Change values: ``<ip>:<port>R<ip>:<port>/<device>_<meta>``, every part optional.
"""
from __future__ import annotations

from typing import Any, Iterable

from ring.errors import RingBuilderError

DEV_KEYS = ("id", "region", "zone", "ip", "port", "replication_ip", "replication_port",
            "device", "weight", "meta")


class _Scanner:
    """A tiny cursor over a device string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos:self.pos + 1]

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def number(self, what: str) -> int:
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos:
            raise RingBuilderError(f"invalid device value {self.text!r}: expected a {what} number")
        return int(self.text[start:self.pos])

    def address(self) -> str:
        """An IPv4 address, a hostname or a bracketed IPv6 address."""
        if self.take("["):
            end = self.text.find("]", self.pos)
            if end < 0:
                raise RingBuilderError(f"invalid device value {self.text!r}: missing ']'")
            value = self.text[self.pos:end]
            self.pos = end + 1
            return value
        start = self.pos
        while not self.done() and self.peek() not in ":/_R":
            self.pos += 1
        return self.text[start:self.pos]

    def rest_until(self, stop: str) -> str:
        start = self.pos
        while not self.done() and self.peek() not in stop:
            self.pos += 1
        return self.text[start:self.pos]


def _port(value: int, text: str) -> int:
    if not 0 < value < 65536:
        raise RingBuilderError(f"invalid port in {text!r}: {value}")
    return value


def _ip_port(scan: _Scanner, result: dict[str, Any], ip_key: str, port_key: str) -> None:
    """``[<ip>][:<port>]`` into ``result[ip_key]`` and ``result[port_key]``."""
    ip = scan.address()
    if ip:
        result[ip_key] = ip
    if scan.take(":"):
        result[port_key] = _port(scan.number(port_key.replace("_", " ")), scan.text)


def _address_tail(scan: _Scanner, result: dict[str, Any], require: bool) -> None:
    """``<ip>:<port>[R<ip>:<port>][/<device>[_<meta>]]`` into ``result``."""
    text = scan.text
    if scan.peek() not in (":", "R", "/", "_", ""):
        _ip_port(scan, result, "ip", "port")
    elif scan.take(":"):
        result["port"] = _port(scan.number("port"), text)
    if scan.take("R"):
        _ip_port(scan, result, "replication_ip", "replication_port")
    if scan.take("/"):
        name = scan.rest_until("_")
        if not name:
            raise RingBuilderError(f"invalid device value {text!r}: empty device name")
        result["device"] = name
    if scan.take("_"):
        result["meta"] = scan.text[scan.pos:]
        scan.pos = len(scan.text)
    if not scan.done():
        raise RingBuilderError(f"invalid device value {text!r}: unexpected {scan.text[scan.pos:]!r}")
    if require:
        for key in ("ip", "port", "device"):
            if key not in result:
                raise RingBuilderError(
                    f"invalid device value {text!r}: expected r<region>z<zone>-<ip>:<port>/<device>")


def parse_add_value(text: str) -> dict[str, Any]:
    """``r1z1-127.0.0.1:6200[R127.0.0.1:6300]/sdb[_meta]`` to a device dict (no weight)."""
    scan = _Scanner(text.strip())
    dev: dict[str, Any] = {"region": 1}
    if scan.take("r"):
        dev["region"] = scan.number("region")
    if not scan.take("z"):
        raise RingBuilderError(f"invalid device value {text!r}: expected r<region>z<zone>-...")
    dev["zone"] = scan.number("zone")
    if not scan.take("-"):
        raise RingBuilderError(f"invalid device value {text!r}: expected '-' after the zone")
    _address_tail(scan, dev, require=True)
    return dev


def parse_search_value(text: str) -> dict[str, Any]:
    """A search value to the criteria it names (keys of DEV_KEYS)."""
    scan = _Scanner(text.strip())
    if scan.done():
        raise RingBuilderError("empty search value")
    criteria: dict[str, Any] = {}
    if scan.take("d"):
        criteria["id"] = scan.number("device id")
    if scan.take("r"):
        criteria["region"] = scan.number("region")
    if scan.take("z"):
        criteria["zone"] = scan.number("zone")
    scan.take("-")
    _address_tail(scan, criteria, require=False)
    return criteria


def parse_change_value(text: str) -> dict[str, Any]:
    """``set_info`` value: ``<ip>:<port>R<ip>:<port>/<device>_<meta>``, all optional."""
    scan = _Scanner(text.strip())
    changes: dict[str, Any] = {}
    _address_tail(scan, changes, require=False)
    if not changes:
        raise RingBuilderError(f"invalid change value {text!r}")
    return changes


def parse_weight(value: Any) -> float:
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise RingBuilderError(f"invalid weight {value!r}: expected a number") from None
    if weight < 0 or weight != weight or weight == float("inf"):
        raise RingBuilderError(f"invalid weight {value!r}: must be a finite number >= 0")
    return weight


def normalize_dev(dev: dict[str, Any]) -> dict[str, Any]:
    """Check and complete a new device dict (replication address defaults to the main one)."""
    missing = [key for key in ("region", "zone", "ip", "port", "device", "weight") if key not in dev]
    if missing:
        raise RingBuilderError(f"device is missing {', '.join(missing)}")
    unknown = set(dev) - set(DEV_KEYS)
    if unknown:
        raise RingBuilderError(f"unknown device field(s): {', '.join(sorted(unknown))}")
    out = {
        "id": dev.get("id"),
        "region": _non_negative_int(dev["region"], "region"),
        "zone": _non_negative_int(dev["zone"], "zone"),
        "ip": _text(dev["ip"], "ip"),
        "port": _port(_non_negative_int(dev["port"], "port"), str(dev["port"])),
        "replication_ip": _text(dev.get("replication_ip") or dev["ip"], "replication ip"),
        "replication_port": _port(_non_negative_int(dev.get("replication_port") or dev["port"],
                                                    "replication port"), str(dev["port"])),
        "device": _text(dev["device"], "device"),
        "weight": parse_weight(dev["weight"]),
        "meta": str(dev.get("meta") or ""),
    }
    if "/" in out["device"]:
        raise RingBuilderError(f"invalid device name {out['device']!r}")
    return out


def _non_negative_int(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RingBuilderError(f"invalid {what} {value!r}: expected an integer") from None
    if number < 0:
        raise RingBuilderError(f"invalid {what} {value!r}: must be >= 0")
    return number


def _text(value: Any, what: str) -> str:
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        raise RingBuilderError(f"empty {what}")
    return text


def matches(dev: dict[str, Any], criteria: dict[str, Any]) -> bool:
    for key, wanted in criteria.items():
        have = dev.get(key)
        if key in ("ip", "replication_ip"):
            if str(have).lower() != str(wanted).strip("[]").lower():
                return False
        elif key == "weight":
            if abs(float(have) - float(wanted)) > 1e-9:
                return False
        elif have != wanted:
            return False
    return True


def search(devs: Iterable[dict | None], criteria: dict[str, Any]) -> list[dict]:
    return [dev for dev in devs if dev is not None and matches(dev, criteria)]


def format_address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_dev(dev: dict[str, Any]) -> str:
    """``d3r1z2-127.0.0.1:6200R127.0.0.1:6200/sdb_"meta"``, as searches accept it."""
    text = (f"d{dev['id']}r{dev['region']}z{dev['zone']}-{format_address(dev['ip'], dev['port'])}"
            f"R{format_address(dev['replication_ip'], dev['replication_port'])}/{dev['device']}")
    return text + (f"_{dev['meta']}" if dev.get("meta") else "")
