"""Egress rules without any network: host parsing, normalisation, matching, config files."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskhand.safety.egress import (
    EgressConfigError,
    EgressRules,
    HostError,
    forbidden_reason,
    load_rules,
    normalize_host,
)

RULES = EgressRules.from_domains(["allowed.test", "*.wild.test", "203.0.113.7"])


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Allowed.TEST", "allowed.test"),
        ("allowed.test.", "allowed.test"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("ＢÜCHER．de", "xn--bcher-kva.de"),  # fullwidth letters and dot (IDNA mapping)
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "127.0.0.1"),
        ("::ffff:7f00:1", "127.0.0.1"),
    ],
)
def test_hosts_are_normalised(raw: str, canonical: str) -> None:
    assert normalize_host(raw).name == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "allowed.test\x00.evil.test",
        "allowed.test\r\nx",
        "allowed .test",
        "allowed.test@evil.test",
        "evil.test#allowed.test",
        "evil.test?allowed.test",
        "%61llowed.test",
        "evil.test/allowed.test",
        "evil.test\\allowed.test",
        "a..test",
        ".a.test",
        "a.test..",
        "-a.test",
        "a" * 64 + ".test",
        ("a" * 60 + ".") * 5 + "test",
        "1.2.3.4.5",
        "999.1.1.1",
        "1.2.evil.3",
        "[::1",
        "[fe80::1%eth0]",
        "xn--zz.test",
        "evil\u200b.test\x7f",
    ],
)
def test_ambiguous_or_malformed_hosts_are_refused(raw: str) -> None:
    with pytest.raises(HostError):
        normalize_host(raw)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("allowed.test", True),
        ("ALLOWED.test.", True),
        ("sub.allowed.test", False),  # exact entries do not cover subdomains
        ("a.wild.test", True),
        ("a.b.wild.test", True),
        ("wild.test", False),  # *.domain never matches the apex
        ("allowed.test.evil.test", False),
        ("evil-allowed.test", False),
        ("evilallowed.test", False),
        ("wild.test.evil.test", False),
        ("аllowed.test", False),  # Cyrillic a: punycode, another name
        ("203.0.113.7", True),
        ("3405803783", True),  # the same IP, spelled as a number
        ("203.0.113.8", False),
        ("127.0.0.1", False),
        ("[::1]", False),
    ],
)
def test_matching(host: str, allowed: bool) -> None:
    assert RULES.host_allowed(normalize_host(host)) is allowed


def test_ports_default_to_web_and_nothing_is_allowed_by_default() -> None:
    assert RULES.check(normalize_host("allowed.test"), 443).allowed
    assert RULES.check(normalize_host("allowed.test"), 22).reason == "blocked-port"
    empty = EgressRules()
    assert empty.empty
    assert empty.check(normalize_host("example.com"), 443).reason == "blocked-by-allowlist"
    assert empty.check(normalize_host("1.1.1.1"), 443).reason == "blocked-ip-literal"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "cgnat"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("::1", "loopback"),
        ("fd00:ec2::254", "metadata"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "reserved"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_forbidden_address_ranges(address: str, reason: str | None) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_an_explicitly_allowed_private_address_is_allowed() -> None:
    rules = EgressRules.from_domains(["127.0.0.5"])
    assert rules.check_address(ipaddress.ip_address("127.0.0.5")).allowed
    assert not rules.check_address(ipaddress.ip_address("127.0.0.6")).allowed


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "*.com",
        "*.",
        "a.*.test",
        "*a.test",
        "**.a.test",
        "https://example.com",
        "example.com/path",
        "example.com:443",
        " example.com",
        "example..com",
        "*.127.0.0.1",
        "exa mple.com",
    ],
)
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(EgressConfigError):
        EgressRules.from_domains([entry])


def test_from_domains_refuses_a_bare_string_and_bad_ports() -> None:
    with pytest.raises(EgressConfigError):
        EgressRules.from_domains("example.com")
    for ports in ([0], [65536], [True], ["443"]):
        with pytest.raises(EgressConfigError):
            EgressRules.from_domains(["example.com"], ports)  # type: ignore[arg-type]


def test_config_files(tmp_path: Path) -> None:
    good = tmp_path / "egress.toml"
    good.write_text('[egress]\nallow = ["Example.com.", "*.wiki.test"]\nports = [443]\n')
    rules = load_rules(good)
    assert rules.hosts == {"example.com"} and rules.wildcards == {"wiki.test"}
    assert rules.ports == {443}
    flat = tmp_path / "flat.toml"
    flat.write_text('allow = ["example.com"]\n')
    assert load_rules(flat).ports == {80, 443}
    for name, text in {
        "typo.toml": 'alow = ["example.com"]\n',
        "star.toml": 'allow = ["*"]\n',
        "tld.toml": 'allow = ["*.com"]\n',
        "scheme.toml": 'allow = ["http://example.com"]\n',
        "broken.toml": "allow = [\n",
        "string.toml": 'allow = "example.com"\n',
        "rules.json": '{"allow": []}',
    }.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(EgressConfigError, match=name):
            load_rules(path)
    with pytest.raises(EgressConfigError):
        load_rules(tmp_path / "missing.toml")


HOSTISH = st.text(
    alphabet=st.sampled_from("abcxyz019-_.:[]@#?%/\\ \x00\r\n*ÄäßＡ．。\u200b"), max_size=40
) | st.text(max_size=40)


@settings(max_examples=400, deadline=None)
@given(HOSTISH)
def test_random_hosts_never_crash_and_normalising_is_idempotent(raw: str) -> None:
    try:
        host = normalize_host(raw)
    except HostError:
        return
    again = normalize_host(host.name)
    assert again == host
    assert host.name.isascii() and host.name == host.name.lower()
    assert not any(c in host.name for c in "\x00\r\n @#?%/\\")


@settings(max_examples=200, deadline=None)
@given(st.lists(HOSTISH, max_size=4))
def test_random_entries_give_rules_or_a_config_error(entries: list[str]) -> None:
    try:
        rules = EgressRules.from_domains(entries)
    except EgressConfigError:
        return
    for host in rules.hosts:
        assert rules.host_allowed(normalize_host(host))
    for domain in rules.wildcards:
        assert not rules.host_allowed(normalize_host(domain)) or domain in rules.hosts
        assert rules.host_allowed(normalize_host("x." + domain))
