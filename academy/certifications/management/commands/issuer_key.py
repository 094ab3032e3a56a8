"""The issuer's signing key: create it, show its public identifiers, rotate it.

The secret key is written to ACADEMY_ISSUER_KEY_FILE (outside the repository, mode 0600).
docs/certificates.md describes rotation and what happens to the status lists.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from academy.certifications import certificates
from academy.certifications.credentials.keys import IssuerKey


class Command(BaseCommand):
    help = "The issuer's Ed25519 key: create, show or rotate it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create the key; refuses to replace one.")
        create.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing (and succeed) when the key exists already.",
        )
        sub.add_parser("show", help="Print the did:key and the public key (multibase).")
        sub.add_parser(
            "rotate", help="Retire the current key (kept to sign its status list), create another."
        )

    def handle(self, *args: object, action: str, **options: Any) -> None:
        path = certificates.issuer_key_path()
        if action == "create":
            if path.exists():
                if options["if_missing"]:
                    self.stdout.write(f"The issuer key exists already: {path}")
                    return
                raise CommandError(
                    f"There is an issuer key at {path} already; it is never overwritten. "
                    "Use 'issuer_key rotate' to replace it (docs/certificates.md)."
                )
            try:
                key = certificates.issuer_key_create()
            except FileExistsError as error:
                raise CommandError(f"There is an issuer key at {path} already.") from error
            self.stdout.write(self.style.SUCCESS(f"Issuer key created: {path} (mode 0600)"))
            self._show(key)
        elif action == "show":
            self._show(self._current())
            for key in certificates.issuer_retired_keys():
                self.stdout.write(f"retired: {key.did}")
        else:
            self._current()
            old, new = certificates.issuer_key_rotate()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Rotated. Retired {old.did} (kept in {certificates.retired_keys_dir()} to "
                    "sign its status list); new key:"
                )
            )
            self._show(new)

    def _current(self) -> IssuerKey:
        try:
            return certificates.issuer_key_current()
        except certificates.IssuerKeyMissing as error:
            raise CommandError(str(error.message)) from error

    def _show(self, key: IssuerKey) -> None:
        self.stdout.write(f"did: {key.did}")
        self.stdout.write(f"publicKeyMultibase: {key.public_key_multibase}")
        self.stdout.write(f"status list: {certificates.status_list_url(key.did)}")
