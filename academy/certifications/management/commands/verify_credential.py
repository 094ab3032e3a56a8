"""Verify a credential file offline and say exactly why it fails.

Checks its structure, its eddsa-rdfc-2022 signature against the issuer's did:key, its dates,
and its revocation when the status list is available: a file given with --status-list, or this
site's own list (read from the database) when the credential names one of this site's lists.
Nothing is fetched from the network. Exit status 0: valid; 1: not valid (the reason is printed).
"""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from academy.certifications import certificates
from academy.certifications.credentials import verify

MAX_FILE_BYTES = verify.MAX_CREDENTIAL_BYTES
MAX_STATUS_LIST_BYTES = 20 * 1024 * 1024


def _read_json(path: Path, limit: int, what: str) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise CommandError(f"structure: cannot read the {what} {path}: {error.strerror}") from error
    if len(data) > limit:
        raise CommandError(f"structure: the {what} {path} is larger than {limit} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CommandError(f"structure: the {what} {path} is not JSON: {error}") from error


class Command(BaseCommand):
    help = "Verify an Open Badges 3.0 credential file offline; say exactly why one fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--status-list",
            type=Path,
            help="A BitstringStatusListCredential file (default: this site's, when named).",
        )
        parser.add_argument(
            "--now", help="Verify as at this ISO 8601 date-time, with a time zone (default: now)."
        )
        parser.add_argument(
            "--any-issuer",
            action="store_true",
            help="Accept a credential signed by a did:key that is not this academy's.",
        )

    def handle(
        self,
        *args: object,
        file: Path,
        status_list: Path | None,
        now: str | None,
        any_issuer: bool,
        **options: Any,
    ) -> None:
        credential = _read_json(file, MAX_FILE_BYTES, "credential")
        status = (
            _read_json(status_list, MAX_STATUS_LIST_BYTES, "status list") if status_list else None
        )
        moment = None
        if now:
            try:
                moment = datetime.fromisoformat(now)
            except ValueError as error:
                raise CommandError(f"--now is not an ISO 8601 date-time: {now}") from error
            if moment.tzinfo is None:
                raise CommandError("--now needs a time zone, e.g. 2030-01-01T00:00:00+00:00")
        check = certificates.credential_check(credential, status_list=status, now=moment)
        result = check.result
        if result.issuer:
            self.stdout.write(f"issuer: {result.issuer}")
        if check.signed_by_stranger and not any_issuer:
            raise CommandError(
                "NOT VALID (issuer): the signature is correct, but the issuer's did:key is not "
                "one of this academy's keys (see 'issuer_key show'; --any-issuer accepts it)"
            )
        if not result.valid:
            raise CommandError(f"NOT VALID ({result.failure}): {result.message}")
        if check.revocation_checked:
            self.stdout.write("revocation: checked against the status list; not revoked")
        else:
            self.stdout.write(
                "revocation: NOT checked (the status list is not available; "
                "give it with --status-list)"
            )
        self.stdout.write(self.style.SUCCESS("VALID: structure, signature and dates are correct"))
