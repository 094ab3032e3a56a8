"""Run the fault relay of this lab host: faults sidecars' requests -> Docker (labs.faults)."""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from labs.faults import FaultRelay


class Command(BaseCommand):
    help = "Relay fault requests of live lab sessions to the Docker engine, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=2.0,
            help="Seconds between looks at the database for new and ended sessions.",
        )

    def handle(self, *args: object, poll_interval: float, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        FaultRelay(poll_interval=poll_interval).run(stop)
