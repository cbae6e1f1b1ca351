"""The address classifier behind ingest's SSRF guard, and the spellings that reach it."""

from ipaddress import ip_address

import pytest

from knowledge.addresses import BlockedAddress, refusal, resolve
from knowledge.fetch import FetchRefused, check_url


@pytest.mark.parametrize("address, why", [
    ("10.0.0.1", "private"), ("10.255.255.255", "private"), ("172.16.0.1", "private"),
    ("172.31.255.254", "private"), ("192.168.1.1", "private"), ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"), ("febf::1", "link-local"),
    ("fc00::1", "private (unique local)"), ("fdff:ffff::1", "private (unique local)"),
    ("100.64.0.1", "shared (CGNAT)"), ("100.127.255.254", "shared (CGNAT)"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("255.255.255.255", "reserved"), ("240.0.0.1", "reserved"), ("192.0.2.10", "documentation"),
    ("2001:db8::1", "documentation"), ("198.18.0.1", "benchmarking"),
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 wrapping 10.0.0.1
    ("::127.0.0.1", "reserved (IPv4-compatible)"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"), ("::ffff:169.254.169.254", "cloud metadata"),
])
def test_non_public_addresses_are_refused(address, why):
    assert refusal(ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1",
                                     "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert refusal(ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "::1", "fe80::1"])
def test_allow_private_lifts_the_private_rule(address):
    assert refusal(ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"])
def test_cloud_metadata_stays_refused_with_allow_private(address):
    assert refusal(ip_address(address), allow_private=True) == "cloud metadata"


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0x7f000001", "127.1", "localhost",
                                  "017700000001", "[::1]", "::ffff:7f00:1"])
def test_encoded_loopback_hosts_resolve_to_what_they_mean_and_are_refused(host):
    with pytest.raises(BlockedAddress, match="loopback"):
        resolve(host, 80)


@pytest.mark.parametrize("host", ["metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "metadata"])
def test_metadata_host_names_are_refused_before_any_lookup(host):
    with pytest.raises(BlockedAddress, match="cloud metadata"):
        resolve(host, 80, allow_private=True)


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "only http and https"), ("gopher://127.0.0.1:6379/_x", "only http and https"),
    ("javascript:alert(1)", "only http and https"), ("https://user:pw@help.example.test/", "user name"),
    ("http:///nohost", "no host"),
])
def test_only_plain_http_urls_are_fetched(url, message):
    with pytest.raises(FetchRefused, match=message):
        check_url(url)
