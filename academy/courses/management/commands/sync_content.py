from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from academy.contentfiles import ContentError
from academy.contentsync import content_sync


class Command(BaseCommand):
    help = (
        "Reconcile the database to the content folder: create, update and retire courses, "
        "lessons, knowledge checks, labs and certifications. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Validate and report, but write nothing."
        )
        parser.add_argument(
            "--path", type=Path, default=None, help="Content folder (default: CONTENT_DIR)."
        )

    def handle(self, *args, check: bool, path: Path | None, verbosity: int = 1, **options):
        root = (path or settings.CONTENT_DIR).resolve()
        say = self.stdout.write if verbosity else (lambda *_args, **_kwargs: None)
        if not root.is_dir():
            raise CommandError(f"No content folder at {root}")
        try:
            report = content_sync(root=root, apply=not check)
        except ContentError as error:
            for problem in error.problems:
                self.stderr.write(problem.render(root))
            raise CommandError(
                f"{len(error.problems)} problem(s) found; nothing was applied."
            ) from error

        content = report.content
        assert content is not None  # read, or ContentError was raised
        lessons = sum(len(course.lessons) for course in content.courses)
        courses, labs = len(content.courses), len(content.labs)
        certifications = len(content.certifications)
        items = sum(len(certification.items) for certification in content.certifications)
        say(
            f"Read {courses} course(s), {lessons} lesson(s), {labs} lab(s), "
            f"{certifications} certification(s) with {items} item(s)."
        )
        for problem in content.missing_translations:
            say(self.style.WARNING(f"missing translation: {problem.render(root)}"))
        if not report.changed:
            say(self.style.SUCCESS("Nothing to do: the database matches the content."))
            return
        verb = "Would apply" if check else "Applied"
        for label, counter in (
            ("created", report.created),
            ("updated", report.updated),
            ("retired", report.retired),
        ):
            for kind, count in sorted(counter.items()):
                say(f"  {label}: {count} {kind}")
        say(self.style.SUCCESS(f"{verb} the changes above."))
