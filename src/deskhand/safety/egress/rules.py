"""Which hosts and ports the sandbox may reach: parsing, normalising and matching.

Hosts are compared in one canonical form only: lowercase ASCII (IDN labels become punycode
through Python's ``idna`` codec), one trailing dot removed, IP literals in every spelling
(``2130706433``, ``0177.0.0.1``, ``0x7f000001``, ``127.1``, ``[::ffff:127.0.0.1]``) turned into
the address they mean. Anything that could make the checked name differ from the name that is
resolved (NUL, CR, LF, spaces, control characters, ``@``, ``#``, ``?``, ``%``, ``/``, ``\\``,
empty labels) is refused, never cleaned up.

Matching follows Anthropic's sandbox-runtime: ``example.com`` matches only itself;
``*.example.com`` matches every subdomain but not ``example.com``. An IP address is allowed only
when that exact address is listed. Resolved addresses in loopback, private, link-local, CGNAT,
multicast, reserved and cloud-metadata ranges are refused unless that exact address is listed.
The default is nothing allowed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS: frozenset[int] = frozenset({80, 443})
MAX_HOST_CHARS = 253
MAX_LABEL_CHARS = 63
MAX_RAW_HOST_CHARS = 1024

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# Characters that never belong in a host name and that parsers disagree about.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f@#?%/\\:\[\]<>\"'`^{|}~,;=!$&()*+\u2028\u2029\ufeff]")
# WHATWG URL: a host whose last label is a number is an IPv4 address, in any base.
_NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)")

# Ranges the proxy never connects to unless the exact address is allowed. Python's is_global
# covers most of these; the explicit list keeps the intent readable and catches the rest.
_FORBIDDEN_NETS: tuple[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network], ...] = tuple(
    (reason, ipaddress.ip_network(net))
    for reason, net in (
        ("unspecified", "0.0.0.0/8"),
        ("private", "10.0.0.0/8"),
        ("cgnat", "100.64.0.0/10"),
        ("loopback", "127.0.0.0/8"),
        ("metadata", "169.254.169.254/32"),
        ("link-local", "169.254.0.0/16"),
        ("private", "172.16.0.0/12"),
        ("reserved", "192.0.0.0/24"),
        ("reserved", "192.0.2.0/24"),
        ("reserved", "192.88.99.0/24"),
        ("private", "192.168.0.0/16"),
        ("reserved", "198.18.0.0/15"),
        ("reserved", "198.51.100.0/24"),
        ("reserved", "203.0.113.0/24"),
        ("multicast", "224.0.0.0/4"),
        ("reserved", "240.0.0.0/4"),
        ("unspecified", "::/128"),
        ("loopback", "::1/128"),
        ("reserved", "64:ff9b::/96"),
        ("reserved", "64:ff9b:1::/48"),
        ("reserved", "100::/64"),
        ("reserved", "2001::/23"),
        ("reserved", "2001:db8::/32"),
        ("reserved", "2002::/16"),
        ("metadata", "fd00:ec2::254/128"),
        ("private", "fc00::/7"),
        ("link-local", "fe80::/10"),
        ("reserved", "fec0::/10"),
        ("multicast", "ff00::/8"),
    )
)


class EgressConfigError(ValueError):
    """An allowlist entry or file is invalid; the desktop refuses to start with it."""


class HostError(ValueError):
    """A host name that cannot be checked safely (malformed, or ambiguous between parsers)."""


@dataclass(frozen=True)
class Host:
    """A checked host: its canonical name, and the address if it is an IP literal."""

    name: str
    ip: IPAddress | None = None

    def __str__(self) -> str:
        return self.name


def _canonical_ip(ip: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (::ffff:a.b.c.d) means the IPv4 address: compare it as that."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_ip(text: str) -> IPAddress | None:
    """The address an IP literal means, in any spelling, or None if `text` is a name.

    Raises HostError for things that look numeric but are no valid address (``1.2.3.4.5``,
    ``999.1.1.1``): such a name would be an IP to some parsers and a name to others.
    """
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            raise HostError(f"unbalanced brackets in {text!r}")
        text = text[1:-1]
        if "%" in text:
            raise HostError("IPv6 zone ids are not allowed")
        try:
            return _canonical_ip(ipaddress.IPv6Address(text))
        except ValueError:
            raise HostError(f"invalid IPv6 literal [{text}]") from None
    if ":" in text:
        if "%" in text:
            raise HostError("IPv6 zone ids are not allowed")
        try:
            return _canonical_ip(ipaddress.IPv6Address(text))
        except ValueError:
            raise HostError(f"{text!r} is neither a host name nor an IPv6 address") from None
    labels = text.removesuffix(".").split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        raise HostError(f"{text!r} mixes names and numbers like an IP address")
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text.removesuffix(".")))
    except OSError:
        raise HostError(f"{text!r} looks like an IP address but is not a valid one") from None


def normalize_host(raw: str) -> Host:
    """The canonical form of a host name or IP literal, or HostError.

    Idempotent: ``normalize_host(normalize_host(x).name) == normalize_host(x)``.
    """
    if not isinstance(raw, str):
        raise HostError("a host must be a string")
    if not raw:
        raise HostError("empty host")
    if len(raw) > MAX_RAW_HOST_CHARS:
        raise HostError("host name too long")
    if raw.startswith("[") or ":" in raw:
        ip = parse_ip(raw)
        assert ip is not None
        return Host(str(ip), ip)
    if _FORBIDDEN.search(raw):
        bad = _FORBIDDEN.search(raw)
        assert bad is not None
        raise HostError(f"forbidden character {bad.group()!r} in host {raw!r}")
    name = raw
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")  # also maps 。．｡ to "."
        except UnicodeError as exc:
            raise HostError(f"invalid international host name {raw!r}: {exc}") from None
        if _FORBIDDEN.search(name):  # nameprep can produce characters we refuse
            raise HostError(f"forbidden character in host {raw!r} after IDNA mapping")
    if name.endswith(".."):
        raise HostError(f"empty label in host {raw!r}")
    name = name.removesuffix(".").lower()
    ip = parse_ip(name)
    if ip is not None:
        return Host(str(ip), ip)
    if len(name) > MAX_HOST_CHARS:
        raise HostError("host name too long")
    for label in name.split("."):
        if not label:
            raise HostError(f"empty label in host {raw!r}")
        if len(label) > MAX_LABEL_CHARS:
            raise HostError(f"label longer than {MAX_LABEL_CHARS} characters in {raw!r}")
        if not _LABEL.fullmatch(label):
            raise HostError(f"invalid label {label!r} in host {raw!r}")
    if name.startswith("xn--") or ".xn--" in name:
        _check_punycode(name, raw)
    return Host(name)


def _check_punycode(name: str, raw: str) -> None:
    """xn-- labels must decode; the name stays in its ASCII form either way."""
    for label in name.split("."):
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise HostError(f"invalid punycode label {label!r} in {raw!r}") from None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why the proxy must not connect to `ip` (loopback, private, metadata...), or None."""
    ip = _canonical_ip(ip)
    for reason, net in _FORBIDDEN_NETS:
        if ip.version == net.version and ip in net:
            return reason
    if ip.is_multicast:
        return "multicast"
    if not ip.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class EgressRules:
    """An allowlist: exact host names, ``*.domain`` wildcards, exact IPs, and ports.

    Build it with `from_domains` or `load_rules`; the default allows nothing.
    """

    hosts: frozenset[str] = frozenset()
    wildcards: frozenset[str] = frozenset()  # the domain after "*.": matches its subdomains
    ips: frozenset[IPAddress] = frozenset()
    ports: frozenset[int] = DEFAULT_PORTS
    entries: tuple[str, ...] = field(default=(), compare=False)  # as written, for messages

    def __post_init__(self) -> None:
        for port in self.ports:
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise EgressConfigError(f"invalid port {port!r}: ports are 1..65535")

    @classmethod
    def from_domains(
        cls, domains: Iterable[str], ports: Iterable[int] | None = None
    ) -> EgressRules:
        """Rules from entries such as ``example.com``, ``*.example.org``, ``203.0.113.7``.

        Raises EgressConfigError naming the first bad entry.
        """
        if isinstance(domains, str):
            raise EgressConfigError("domains must be a list of strings, not one string")
        hosts: set[str] = set()
        wildcards: set[str] = set()
        ips: set[IPAddress] = set()
        entries: list[str] = []
        for entry in domains:
            kind, value = parse_entry(entry)
            entries.append(entry)
            if kind == "ip":
                assert isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address)
                ips.add(value)
            elif kind == "wildcard":
                wildcards.add(str(value))
            else:
                hosts.add(str(value))
        return cls(
            frozenset(hosts),
            frozenset(wildcards),
            frozenset(ips),
            DEFAULT_PORTS if ports is None else _ports(ports),
            tuple(entries),
        )

    @property
    def empty(self) -> bool:
        return not (self.hosts or self.wildcards or self.ips)

    def host_allowed(self, host: Host) -> bool:
        if host.ip is not None:
            return host.ip in self.ips
        if host.name in self.hosts:
            return True
        parts = host.name.split(".")
        return any(".".join(parts[i:]) in self.wildcards for i in range(1, len(parts)))

    def check(self, host: Host, port: int) -> Verdict:
        """May the sandbox connect to `host` on `port` (before resolving the name)?"""
        if not self.host_allowed(host):
            reason = "blocked-ip-literal" if host.ip is not None else "blocked-by-allowlist"
            return Verdict(False, reason)
        if port not in self.ports:
            return Verdict(False, "blocked-port")
        return Verdict(True, "allowed")

    def check_address(self, ip: IPAddress) -> Verdict:
        """May the proxy connect to this resolved address?"""
        ip = _canonical_ip(ip)
        if ip in self.ips:
            return Verdict(True, "allowed")
        reason = forbidden_reason(ip)
        if reason is not None:
            return Verdict(False, f"blocked-{reason}-address")
        return Verdict(True, "allowed")

    def describe(self) -> str:
        names = sorted(self.hosts) + [f"*.{w}" for w in sorted(self.wildcards)]
        names += sorted(str(ip) for ip in self.ips)
        ports = ", ".join(str(p) for p in sorted(self.ports))
        return f"{', '.join(names) or 'nothing'} on ports {ports}"


def parse_entry(entry: object) -> tuple[str, str | IPAddress]:
    """One allowlist entry as ("host", name), ("wildcard", domain) or ("ip", address)."""
    if not isinstance(entry, str):
        raise EgressConfigError(f"allowlist entries must be strings, got {entry!r}")
    if "://" in entry or entry.lower().startswith(("http:", "https:")):
        raise EgressConfigError(
            f"{entry!r}: write the host name only, without a scheme (example.com)"
        )
    if "/" in entry:
        raise EgressConfigError(f"{entry!r}: write the host name only, without a path")
    if entry.strip() != entry or not entry:
        raise EgressConfigError(f"{entry!r}: empty or surrounded by spaces")
    if "*" in entry:
        if entry == "*":
            raise EgressConfigError("'*' would allow every host; list the domains instead")
        if not entry.startswith("*.") or "*" in entry[2:]:
            raise EgressConfigError(
                f"{entry!r}: a wildcard must be a whole first label, as in *.example.com"
            )
        try:
            domain = normalize_host(entry[2:])
        except HostError as exc:
            raise EgressConfigError(f"{entry!r}: {exc}") from None
        if domain.ip is not None:
            raise EgressConfigError(f"{entry!r}: wildcards apply to names, not IP addresses")
        if "." not in domain.name:
            raise EgressConfigError(
                f"{entry!r} would allow a whole top-level domain; name the domains instead"
            )
        return "wildcard", domain.name
    if ":" in entry and not entry.startswith("[") and entry.count(":") == 1:
        raise EgressConfigError(f"{entry!r}: ports are set with `ports`, not in the host name")
    try:
        host = normalize_host(entry)
    except HostError as exc:
        raise EgressConfigError(f"{entry!r}: {exc}") from None
    if host.ip is not None:
        return "ip", host.ip
    return "host", host.name


def _ports(ports: Iterable[int]) -> frozenset[int]:
    if isinstance(ports, str | bytes):
        raise EgressConfigError("ports must be a list of numbers")
    values = list(ports)
    for port in values:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise EgressConfigError(f"invalid port {port!r}: ports are 1..65535")
    return frozenset(values)


def rules_from_mapping(data: Mapping[str, Any], source: str = "config") -> EgressRules:
    """Rules from a parsed config: ``{"allow": [...], "ports": [...]}``, optionally under
    an ``egress`` table. Unknown keys are errors (a typo must not silently allow nothing or
    everything)."""
    if set(data) == {"egress"}:
        data = data["egress"]
    if not isinstance(data, Mapping):
        raise EgressConfigError(f"{source}: expected a table with `allow` and `ports`")
    unknown = set(data) - {"allow", "ports"}
    if unknown:
        raise EgressConfigError(
            f"{source}: unknown keys {sorted(unknown)}; expected `allow` and `ports`"
        )
    allow = data.get("allow", [])
    if not isinstance(allow, list):
        raise EgressConfigError(f"{source}: `allow` must be a list of host names")
    ports = data.get("ports")
    if ports is not None and not isinstance(ports, list):
        raise EgressConfigError(f"{source}: `ports` must be a list of numbers")
    try:
        return EgressRules.from_domains(allow, ports)
    except EgressConfigError as exc:
        raise EgressConfigError(f"{source}: {exc}") from None


def load_rules(path: str | Path) -> EgressRules:
    """Read an allowlist from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    Example (TOML)::

        [egress]
        allow = ["example.com", "*.wikipedia.org"]
        ports = [443]

    Raises EgressConfigError with the file name for any problem: the caller must refuse to
    start (fail closed) rather than run with fewer or more rules than written.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise EgressConfigError(f"cannot read egress rules from {path}: {exc}") from None
    suffix = path.suffix.lower()
    data: Any
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise EgressConfigError(f"{path}: invalid TOML: {exc}") from None
    elif suffix in {".yaml", ".yml"}:
        try:
            import yaml  # optional: only for YAML files
        except ImportError:
            raise EgressConfigError(
                f"{path}: reading YAML needs PyYAML (pip install pyyaml); or use TOML"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise EgressConfigError(f"{path}: invalid YAML: {exc}") from None
    else:
        raise EgressConfigError(f"{path}: egress rules must be a .toml or .yaml file")
    if not isinstance(data, Mapping):
        raise EgressConfigError(f"{path}: expected a table with `allow` and `ports`")
    return rules_from_mapping(data, str(path))
