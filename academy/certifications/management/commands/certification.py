"""Staff operations on certificates: award a certification outside the exam flow, export a
certificate's credential file.

``award`` is for a proctored session or a correction: it records who awarded it (--by, a staff
account) and why (--reason), in the certificate and in the admin's history, and issues the same
signed credential as an exam pass.
"""

import getpass
import os
from pathlib import Path
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from academy.certifications import certificates
from academy.certifications.models import Certificate, Certification
from academy.i18n import any_language_slug


class Command(BaseCommand):
    help = "Award a certification outside the exam flow, or export a certificate's credential."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        award = sub.add_parser("award", help="Award SLUG to USERNAME, with a reason.")
        award.add_argument("username")
        award.add_argument("slug", help="The certification's key or slug (either language).")
        award.add_argument("--reason", required=True, help="Why (recorded and audited).")
        award.add_argument(
            "--by",
            help="Username of the staff member awarding it (default: $ACADEMY_STAFF_USERNAME, "
            "else the login name running the command).",
        )
        award.add_argument("--language", default="en", choices=list(certificates.LANGUAGES))

        export = sub.add_parser("export", help="Write a certificate's credential file.")
        export.add_argument("certificate_id", help="The certificate's public id (a UUID).")
        export.add_argument("--out", required=True, type=Path)

    def handle(self, *args: object, action: str, **options: Any) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_award(
        self,
        *,
        username: str,
        slug: str,
        reason: str,
        by: str | None,
        language: str,
        **options: Any,
    ) -> None:
        users = get_user_model()
        # Every award names an accountable staff account: given, or the operator's own.
        by = by or os.environ.get("ACADEMY_STAFF_USERNAME") or getpass.getuser()
        try:
            user = users.objects.get(username=username)
        except users.DoesNotExist as error:
            raise CommandError(f"No user named {username!r}.") from error
        try:
            staff = users.objects.get(username=by)
        except users.DoesNotExist as error:
            raise CommandError(
                f"No user named {by!r}: name the staff member who awards it with --by USERNAME."
            ) from error
        if not (staff.is_active and staff.is_staff):
            raise CommandError(f"{by!r} is not an active staff member: only staff award.")
        certification = (
            Certification.objects.published().filter(Q(key=slug) | any_language_slug(slug)).first()
        )
        if certification is None:
            raise CommandError(f"No published certification {slug!r}.")
        try:
            certificate = certificates.certificate_issue(
                user=user,
                certification=certification,
                language=language,
                awarded_by=staff,
                reason=reason,
            )
        except certificates.CertificateError as error:
            raise CommandError(str(error.message)) from error
        self.stdout.write(
            self.style.SUCCESS(f"Certificate {certificate.public_id} awarded to {username}.")
        )
        self.stdout.write(certificates.certificate_page_url(certificate))

    def do_export(self, *, certificate_id: str, out: Path, **options: Any) -> None:
        try:
            certificate = Certificate.objects.get(public_id=UUID(certificate_id))
        except (ValueError, Certificate.DoesNotExist) as error:
            raise CommandError(f"No certificate {certificate_id!r}.") from error
        try:
            out.write_bytes(certificates.certificate_credential_bytes(certificate))
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror}") from error
        self.stdout.write(
            self.style.SUCCESS(f"Credential of {certificate.public_id} written to {out}")
        )
