"""academy.net.client_ip: forwarding headers believed only from the configured proxies."""

import pytest
from django.test import RequestFactory

from academy.net import client_ip


def _request(remote: str, **headers):
    meta = {"REMOTE_ADDR": remote}
    if "xff" in headers:
        meta["HTTP_X_FORWARDED_FOR"] = headers["xff"]
    if "real_ip" in headers:
        meta["HTTP_X_REAL_IP"] = headers["real_ip"]
    return RequestFactory().get("/", **meta)


def test_without_trusted_proxies_the_headers_are_ignored(settings):
    settings.TRUSTED_PROXIES = []
    request = _request("203.0.113.9", xff="192.0.2.1", real_ip="192.0.2.2")
    assert client_ip(request) == "203.0.113.9"


def test_headers_from_an_untrusted_peer_are_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    assert client_ip(_request("10.0.0.3", xff="192.0.2.1")) == "10.0.0.3"


def test_the_right_most_untrusted_hop_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The client wrote "192.0.2.66" itself; the proxies appended what they saw.
    request = _request("10.0.0.2", xff="192.0.2.66, 198.51.100.7, 10.1.2.3")
    assert client_ip(request) == "198.51.100.7"


def test_x_real_ip_when_there_is_no_x_forwarded_for(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(_request("127.0.0.1", real_ip="198.51.100.7")) == "198.51.100.7"


def test_only_proxies_in_the_chain_gives_the_left_most(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_request("10.0.0.2", xff="10.9.9.9, 10.0.0.5")) == "10.9.9.9"


def test_garbage_stops_at_the_last_good_hop(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = _request("10.0.0.2", xff="not-an-address, 10.0.0.7")
    assert client_ip(request) == "10.0.0.7"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.7:51234", "198.51.100.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_addresses_are_normalised(settings, forwarded, expected):
    settings.TRUSTED_PROXIES = ["::1"]
    assert client_ip(_request("::1", xff=forwarded)) == expected


def test_no_remote_address(settings):
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="")) == "unknown"
