from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labs.images.build import ImageBuildError, build_lab_images
from labs.runtime import RuntimeFailure, RuntimeUnavailable


class Command(BaseCommand):
    help = (
        "Build the lab images (base, toolbox, target) without a registry: the base is "
        "bootstrapped locally when it cannot be pulled. Cached by content hash."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Rebuild even when up to date.")

    def handle(self, *args: object, force: bool, **options: Any) -> None:
        try:
            results = build_lab_images(force=force, progress=lambda line: self.stdout.write(line))
        except RuntimeUnavailable as error:
            raise CommandError(
                f"{error} Run scripts/ensure-docker.sh to install or start one."
            ) from error
        except (ImageBuildError, RuntimeFailure) as error:
            raise CommandError(f"Building the lab images failed: {error}") from error
        built = [result for result in results if result.built]
        self.stdout.write(self.style.SUCCESS(f"{len(built)} built, {len(results)} up to date now."))
