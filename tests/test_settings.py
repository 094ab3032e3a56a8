"""Production mode: refuses to start half-configured, and passes Django's deploy checks."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "ACADEMY_ENV": "production",
    "SECRET_KEY": "k" * 20 + "9f3b2c1d8e7a6f5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
    "DATABASE_URL": "postgres://academy:secret@db.internal:5432/academy",
    "ALLOWED_HOSTS": "academy.example.org",
    "SITE_URL": "https://academy.example.org",
    "TRUSTED_PROXIES": "10.0.0.2",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/1",
}


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    # Only the variables a deployment would have: nothing the test run itself set.
    dropped = {*PRODUCTION_ENV, "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_DEBUG", "ACADEMY_HTTPS"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_passes_the_deploy_checks():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_without_a_database_url_refuses_to_start():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "DATABASE_URL must be set" in result.stderr


def test_production_without_a_site_url_refuses_to_start():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SITE_URL"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SITE_URL must be set" in result.stderr


def test_production_over_plain_http_fails_the_deploy_checks():
    # Secure cookies, HSTS and the HTTPS redirect follow SITE_URL's scheme.
    env = {**PRODUCTION_ENV, "SITE_URL": "http://academy.example.org"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr + result.stdout


def _setting(name: str, env: dict) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = _manage("shell", "--no-imports", "--command", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_set():
    assert _setting("DEBUG", {}) == "False"
    assert _setting("DEBUG", {"DJANGO_DEBUG": "1"}) == "True"
    assert _setting("DEBUG", {**PRODUCTION_ENV, "DJANGO_DEBUG": "1"}) == "False"


def test_production_settings_read_from_the_environment():
    assert _setting("TRUSTED_PROXIES", PRODUCTION_ENV) == "['10.0.0.2']"
    assert _setting("SESSION_COOKIE_SECURE", PRODUCTION_ENV) == "True"
    assert _setting("SECURE_HSTS_SECONDS", PRODUCTION_ENV) == str(365 * 24 * 3600)
    assert _setting("SECURE_HSTS_SECONDS", {**PRODUCTION_ENV, "SECURE_HSTS_SECONDS": "0"}) == "0"
