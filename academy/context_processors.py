from django.conf import settings
from django.urls import translate_url


def languages(request):
    """The current page in every language, for the switcher and hreflang links.

    Views whose URLs carry translated slugs put their own ``alternate_urls`` in the context;
    this default translates the path's fixed parts and keeps its arguments.
    """
    path = request.get_full_path()
    return {
        "default_alternate_urls": {
            code: translate_url(path, code) for code, _name in settings.LANGUAGES
        },
    }
