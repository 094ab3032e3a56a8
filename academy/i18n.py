from collections.abc import Callable

from django.conf import settings
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
