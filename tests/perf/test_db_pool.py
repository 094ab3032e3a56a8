"""Database connections: no persistent connections (under ASGI each request would leave its own
open), and a pool of PostgreSQL connections per process in production (academy/settings.py)."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.test_settings import PRODUCTION_ENV

SHOW_DATABASE = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default'], default=str))"
)


def _shell(command: str, env: dict) -> subprocess.CompletedProcess:
    dropped = {*PRODUCTION_ENV, "ACADEMY_DB_POOL_SIZE", "DJANGO_DEBUG"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", command],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def _database(env: dict) -> dict:
    result = _shell(SHOW_DATABASE, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_takes_postgresql_connections_from_a_pool():
    database = _database(PRODUCTION_ENV)
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 10, "timeout": 10}


def test_the_pool_size_is_set_or_turned_off_by_the_environment():
    assert (
        _database({**PRODUCTION_ENV, "ACADEMY_DB_POOL_SIZE": "25"})["OPTIONS"]["pool"]["max_size"]
        == 25
    )
    unpooled = _database({**PRODUCTION_ENV, "ACADEMY_DB_POOL_SIZE": "0"})
    assert "pool" not in unpooled.get("OPTIONS", {})
    assert unpooled["CONN_MAX_AGE"] == 0


def test_sqlite_has_no_pool_and_no_persistent_connections(tmp_path):
    database = _database({**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert database["CONN_MAX_AGE"] == 0
    assert "pool" not in database["OPTIONS"]


REUSE = """
from django.db import connection
pids = []
for _ in range(10):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
    connection.close()  # what the end of a request does: back to the pool
print(len(set(pids)), connection.pool.get_stats()["connections_num"])
"""


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs the PostgreSQL that `make test` starts",
)
def test_a_closed_connection_goes_back_to_the_pool_and_is_taken_again():
    result = _shell(
        REUSE, {"DATABASE_URL": os.environ["DATABASE_URL"], "ACADEMY_DB_POOL_SIZE": "2"}
    )
    assert result.returncode == 0, result.stderr
    backends, opened = map(int, result.stdout.strip().splitlines()[-1].split())
    # Ten "requests", on the one or two connections the pool opened (without it: ten).
    assert backends <= 2 and opened <= 2, (backends, opened)
