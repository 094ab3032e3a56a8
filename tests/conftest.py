import pytest
from django.conf import settings
from django.core.cache import cache

from academy.courses.services import content_sync
from tests.content_tree import write_demo_course


@pytest.fixture(autouse=True)
def _fast_passwords_and_clean_cache(settings):
    from django.utils import translation

    # A request to an /es/ page leaves Spanish active in the test's thread: every test starts
    # (and ends) in English, whatever ran before it in this process.
    translation.activate(settings.LANGUAGE_CODE)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Lab tasks go to a queue nobody reads, unless a test asks for the real worker
    # (lab_worker): a developer's own running worker must never take a test's task.
    settings.LAB_TASK_QUEUE = "test-nobody-listens"
    # One lab host, the test's own LAB_TASK_QUEUE, unless a test announces hosts itself
    # (tests/labs/test_lab_hosts*.py): then sessions go to the hosts it announced.
    settings.LAB_HOST_ANNOUNCE = False
    cache.clear()
    yield
    cache.clear()
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def demo_content(tmp_path):
    write_demo_course(tmp_path)
    return tmp_path


@pytest.fixture
def real_content(db):
    """The project's own content/, synced into the test database."""
    return content_sync(root=settings.CONTENT_DIR)


def database_env() -> dict[str, str]:
    """Environment that points another process (worker, server, CLI) at the test database.
    Its lab host does not announce itself: the tests that want hosts announce their own."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return {"DATABASE_URL": f"sqlite:///{database['NAME']}", "LAB_HOST_ANNOUNCE": "0"}
    return {
        "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD']}@"
        f"{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}",
        "LAB_HOST_ANNOUNCE": "0",
    }


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_behind(django_db_setup, django_db_blocker):
    """Lets the test database be dropped at the end: on PostgreSQL a connection still open
    (a thread of a live server or of a websocket scenario keeps its own) makes the drop fail.
    Runs after every other session fixture that uses the database has been torn down."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker, in its own process, on the test database and its own queues.

    It uses the configured broker (Redis in CI, the file-system broker otherwise), and queues
    of its own, so that a developer's running worker never takes the tests' tasks: the bare
    LAB_TASK_QUEUE and the queue of each kind of work (labs.services.state.task_queue).
    """
    import os
    import subprocess
    import sys
    import time
    from dataclasses import dataclass

    from labs.services.state import TASK_KINDS

    queue = f"test-labs-{os.getpid()}"
    queues = ",".join([queue, *(f"{queue}.{kind}" for kind in TASK_KINDS)])
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    from academy.certifications.credentials import keys

    issuer_key_file = tmp_path_factory.mktemp("worker-issuer") / "issuer-key.pem"
    issuer_key_file.write_bytes(keys.issuer_key_to_pem(keys.IssuerKey.generate()))

    @dataclass
    class Worker:
        queue: str
        log_path: object
        process: object = None

        def start(self):
            env = {
                **os.environ,
                **database_env(),
                "LAB_TASK_QUEUE": queue,
                # A passed exam graded by the worker is signed with a key of the tests' own.
                "ACADEMY_ISSUER_KEY_FILE": str(issuer_key_file),
            }
            log = open(self.log_path, "a")  # noqa: SIM115 - the worker writes to it until stopped
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "academy",
                    "worker",
                    "--queues",
                    queues,
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"{queue}@%h",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if "ready." in self.log_path.read_text():
                    return self
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
            raise RuntimeError(f"The Celery worker did not start:\n{self.log_path.read_text()}")

        def kill(self):
            """SIGKILL the worker and its children, as a crash would."""
            import signal

            if self.process and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

        def stop(self):
            import signal

            if self.process and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.kill()

    worker = Worker(queue=queue, log_path=log_path).start()
    yield worker
    worker.stop()


@pytest.fixture
def lab_worker(celery_worker_process, settings):
    """The running worker, with this test's lab tasks routed to its queue."""
    if celery_worker_process.process.poll() is not None:
        celery_worker_process.start()  # a test killed it on purpose: start a new one
    settings.LAB_TASK_QUEUE = celery_worker_process.queue
    return celery_worker_process


@pytest.fixture
def fault_relay(tmp_path, lab_worker):
    """`manage.py lab_fault_relay` in a process of its own, on the test database: what carries
    out the `fault` commands of labs with ``faults: true``; on the worker's lab host, where the
    tests' sessions are placed."""
    import os
    import subprocess
    import sys

    log_path = tmp_path / "relay.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "lab_fault_relay", "--poll-interval", "0.3"],
            cwd=settings.BASE_DIR,
            env={**os.environ, **database_env(), "LAB_TASK_QUEUE": lab_worker.queue},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log_path
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def asgi_server(lab_worker, settings):
    """The site on uvicorn (HTTP and websockets), on the test database, sending lab tasks to the
    test worker: what `make run` serves, in a process of its own."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **database_env(), "LAB_TASK_QUEUE": lab_worker.queue}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "academy.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    # Generous: on a loaded 2-core machine a cold process takes a while to import and render.
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/en/", timeout=10)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                code = process.poll()
                process.kill()
                raise RuntimeError(f"uvicorn did not start (exit code {code})") from None
            time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
