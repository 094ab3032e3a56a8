from collections.abc import Callable

from django.conf import settings
from django.db.models import Q
from django.utils import translation


def alternate_urls(url_for: Callable[[], str]) -> dict[str, str]:
    """The same page in each language, for pages whose URLs carry translated slugs.

    ``url_for`` is called once per language with that language active (get_absolute_url).
    """
    urls = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            urls[code] = url_for()
    return urls


def any_language_slug(slug: str, field: str = "slug") -> Q:
    """Rows whose translated ``field`` is ``slug`` in any of the site's languages."""
    query = Q()
    for code, _name in settings.LANGUAGES:
        query |= Q(**{f"{field}_{code}": slug})
    return query
