"""Sign-in, admin sign-in and password-reset throttling: growing delays that slow an attacker
down without ever locking the account's owner out."""

import re

import pytest
from django.core import mail

from academy.accounts import throttle
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
SIGN_IN_ES = "/es/cuentas/iniciar-sesion/"
SIGN_IN_EN = "/en/accounts/sign-in/"
RESET_EN = "/en/accounts/password/reset/"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand."""

    class Clock:
        now = 1_000_000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(throttle, "_now", lambda: fake.now)
    return fake


@pytest.fixture
def limits(settings):
    settings.LOGIN_FREE_FAILURES = 3
    settings.LOGIN_ADDRESS_FREE_FAILURES = 6
    settings.LOGIN_BASE_DELAY_SECONDS = 2
    settings.PASSWORD_RESET_FREE_REQUESTS = 2
    settings.PASSWORD_RESET_ADDRESS_FREE_REQUESTS = 4
    settings.PASSWORD_RESET_BASE_DELAY_SECONDS = 60
    settings.THROTTLE_MAX_DELAY_SECONDS = 900
    return settings


def _sign_in(client, username, password, *, address, url=SIGN_IN_EN, **extra):
    return client.post(
        url, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def test_failures_past_the_free_ones_wait_longer_each_time(client, limits, clock):
    UserFactory(username="luis")
    for _attempt in range(3):
        assert (
            _sign_in(client, "luis", "wrong", address=ATTACKER, url=SIGN_IN_ES).status_code == 200
        )

    refused = _sign_in(client, "luis", PASSWORD, address=ATTACKER, url=SIGN_IN_ES)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "2"
    assert (
        "Hubo demasiados intentos fallidos de inicio de sesión. Vuelve a intentarlo en 2 segundos."
        in refused.content.decode()
    )
    assert "_auth_user_id" not in client.session

    clock.advance(2)
    assert _sign_in(client, "luis", "wrong", address=ATTACKER).status_code == 200  # checked
    assert _sign_in(client, "luis", "wrong", address=ATTACKER)["Retry-After"] == "4"
    clock.advance(4)
    _sign_in(client, "luis", "wrong", address=ATTACKER)
    assert _sign_in(client, "luis", "wrong", address=ATTACKER)["Retry-After"] == "8"


def test_long_waits_are_told_in_minutes(client, limits, clock):
    limits.LOGIN_BASE_DELAY_SECONDS = 300
    UserFactory(username="luis")
    for _attempt in range(3):
        _sign_in(client, "luis", "wrong", address=ATTACKER)

    html = _sign_in(client, "luis", "wrong", address=ATTACKER).content.decode()

    assert "Too many failed sign-in attempts. Try again in 5 minutes." in html


def test_an_attacker_cannot_lock_the_owner_out(client, limits, clock):
    UserFactory(username="luis")
    for _attempt in range(12):
        _sign_in(client, "luis", "wrong", address=ATTACKER)
    assert _sign_in(client, "luis", PASSWORD, address=ATTACKER).status_code == 429

    # The owner, from their own address, signs in at once.
    response = _sign_in(client, "luis", PASSWORD, address=OWNER)

    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_the_owner_gets_in_once_the_wait_is_over_and_starts_afresh(client, limits, clock):
    UserFactory(username="luis")
    for _attempt in range(4):
        _sign_in(client, "luis", "wrong", address=OWNER)
    assert _sign_in(client, "luis", PASSWORD, address=OWNER).status_code == 429

    clock.advance(4)
    assert _sign_in(client, "luis", PASSWORD, address=OWNER).status_code == 302

    client.logout()
    # The success cleared the pair: the next typo costs nothing.
    assert _sign_in(client, "luis", "wrong", address=OWNER).status_code == 200
    assert _sign_in(client, "luis", PASSWORD, address=OWNER).status_code == 302


def test_one_address_guessing_at_many_accounts_is_slowed_down(client, limits, clock):
    UserFactory(username="target")
    for name in ("ana", "bea", "carla", "dora", "eva", "fina"):
        assert _sign_in(client, name, "guess", address=ATTACKER).status_code == 200

    refused = _sign_in(client, "target", PASSWORD, address=ATTACKER)

    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    # Others are not affected.
    assert _sign_in(client, "target", PASSWORD, address=OWNER).status_code == 302


def test_signing_in_to_ones_own_account_does_not_reset_the_address_count(client, limits, clock):
    UserFactory(username="mallory")
    for name in ("ana", "bea", "carla", "dora", "eva"):
        _sign_in(client, name, "guess", address=ATTACKER)
    assert _sign_in(client, "mallory", PASSWORD, address=ATTACKER).status_code == 302
    client.post("/en/accounts/sign-out/")

    _sign_in(client, "fina", "guess", address=ATTACKER)

    assert _sign_in(client, "gala", "guess", address=ATTACKER).status_code == 429


def test_forged_forwarding_headers_do_not_escape_the_throttle(client, limits, clock):
    # No proxy is trusted, so X-Forwarded-For and X-Real-IP are the client's own words.
    UserFactory(username="luis")
    for number in range(4):
        _sign_in(
            client,
            "luis",
            "wrong",
            address=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",
            HTTP_X_REAL_IP=f"192.0.2.{number}",
        )

    refused = _sign_in(
        client, "luis", PASSWORD, address=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.99"
    )

    assert refused.status_code == 429


def test_behind_a_trusted_proxy_each_client_counts_on_its_own(client, limits, clock):
    limits.TRUSTED_PROXIES = ["10.0.0.2"]
    UserFactory(username="luis")
    for _attempt in range(4):
        _sign_in(client, "luis", "wrong", address="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER)
    assert (
        _sign_in(
            client, "luis", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER
        ).status_code
        == 429
    )

    response = _sign_in(client, "luis", PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR=OWNER)

    assert response.status_code == 302


def test_one_request_at_a_time_once_delays_apply(limits, clock):
    keys = throttle.login_keys(username="luis", address=ATTACKER)
    for _attempt in range(3):
        assert throttle.throttle_claim(keys) == 0
        throttle.throttle_failure(keys)
    clock.advance(2)

    assert throttle.throttle_claim(keys) == 0  # this request holds the turn
    assert throttle.throttle_claim(keys) > 0  # a parallel one waits for its outcome
    throttle.throttle_failure(keys)
    clock.advance(4)
    assert throttle.throttle_claim(keys) == 0


def test_ipv6_clients_count_per_64_network(limits, clock):
    first = throttle.login_keys(username="ana", address="2001:db8:1:2::1")
    second = throttle.login_keys(username="ana", address="2001:db8:1:2:ffff::9")
    assert first == second


def test_admin_sign_in_is_throttled_the_same_way(client, limits, clock):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    for _attempt in range(3):
        response = client.post(
            "/admin/login/", {"username": "boss", "password": "wrong"}, REMOTE_ADDR=ATTACKER
        )
        assert response.status_code == 200

    refused = client.post(
        "/admin/login/", {"username": "boss", "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )
    assert refused.status_code == 429
    assert refused["Retry-After"] == "2"
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "boss", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR=OWNER,
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert response.cookies["academy_device"]["httponly"]


def test_password_reset_requests_per_email_wait_in_the_readers_language(client, limits, clock):
    UserFactory(email="rosa@example.org")
    for _attempt in range(2):
        response = client.post(
            "/es/cuentas/contrasena/restablecer/",
            {"email": "rosa@example.org"},
            REMOTE_ADDR=ATTACKER,
        )
        assert response.status_code == 302
    assert len(mail.outbox) == 2

    refused = client.post(
        "/es/cuentas/contrasena/restablecer/", {"email": "ROSA@example.org"}, REMOTE_ADDR=OWNER
    )

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert (
        "Hubo demasiadas solicitudes para restablecer la contraseña. Vuelve a intentarlo en "
        "60 segundos; los enlaces que ya enviamos siguen funcionando."
    ) in re.sub(r"\s+", " ", refused.content.decode())
    assert len(mail.outbox) == 2

    clock.advance(60)
    assert (
        client.post(RESET_EN, {"email": "rosa@example.org"}, REMOTE_ADDR=OWNER).status_code == 302
    )
    assert len(mail.outbox) == 3


def test_password_reset_throttling_says_nothing_about_whether_an_account_exists(
    client, limits, clock
):
    UserFactory(email="rosa@example.org")
    answers = {}
    for email in ("rosa@example.org", "nobody@example.org"):
        statuses = [
            client.post(RESET_EN, {"email": email}, REMOTE_ADDR=f"192.0.2.{n}").status_code
            for n in range(3)
        ]
        answers[email] = statuses

    assert answers["rosa@example.org"] == answers["nobody@example.org"] == [302, 302, 429]


def test_password_reset_requests_per_address(client, limits, clock):
    for number in range(4):
        response = client.post(
            RESET_EN, {"email": f"someone{number}@example.org"}, REMOTE_ADDR=ATTACKER
        )
        assert response.status_code == 302

    refused = client.post(RESET_EN, {"email": "another@example.org"}, REMOTE_ADDR=ATTACKER)

    assert refused.status_code == 429
    assert "Too many password reset requests. Try again in 60 seconds" in refused.content.decode()


def test_password_reset_link_ignores_a_forged_host_header(client, settings):
    settings.SITE_URL = "https://academy.example.org"
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    UserFactory(email="rosa@example.org")

    response = client.post(RESET_EN, {"email": "rosa@example.org"}, HTTP_HOST="evil.example")

    assert response.status_code == 302
    body = mail.outbox[0].body
    assert "evil.example" not in body
    assert re.search(r"https://academy\.example\.org/en/accounts/password/reset/\S+/\S+/", body)


def test_guesses_from_many_addresses_slow_down_unknown_browsers_only(client, limits, clock):
    from django.test import Client

    limits.LOGIN_ACCOUNT_FREE_FAILURES = 4
    UserFactory(username="luis")
    owners_browser = Client()
    assert _sign_in(owners_browser, "luis", PASSWORD, address=OWNER).status_code == 302
    owners_browser.post("/en/accounts/sign-out/")  # keeps the device cookie, as a browser does
    for number in range(4):  # a botnet: one guess per address
        assert _sign_in(client, "luis", "guess", address=f"192.0.2.{number}").status_code == 200

    # A browser that never signed in to the account waits, whatever its address...
    refused = _sign_in(client, "luis", PASSWORD, address="192.0.2.200")
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()

    # ...the owner's own browser does not, from any address.
    assert _sign_in(owners_browser, "luis", PASSWORD, address="198.51.100.200").status_code == 302


def test_a_device_cookie_vouches_for_its_own_account_only(client, limits, clock):
    from django.test import Client

    limits.LOGIN_ACCOUNT_FREE_FAILURES = 4
    UserFactory(username="luis")
    UserFactory(username="mallory")
    owners_browser = Client()
    assert _sign_in(owners_browser, "luis", PASSWORD, address=OWNER).status_code == 302
    owners_cookie = owners_browser.cookies["academy_device"].value
    assert _sign_in(client, "mallory", PASSWORD, address=ATTACKER).status_code == 302
    client.post("/en/accounts/sign-out/")
    assert client.cookies["academy_device"].value

    for number in range(4):
        _sign_in(client, "luis", "guess", address=f"192.0.2.{number}")

    # Mallory's own valid cookie does not vouch for luis, nor does a tampered copy of his.
    assert _sign_in(client, "luis", PASSWORD, address="192.0.2.200").status_code == 429
    client.cookies["academy_device"] = owners_cookie[:-2] + "xx"
    assert _sign_in(client, "luis", PASSWORD, address="192.0.2.201").status_code == 429
    client.cookies["academy_device"] = owners_cookie
    assert _sign_in(client, "luis", PASSWORD, address="192.0.2.202").status_code == 302
