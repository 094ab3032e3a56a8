from django.conf import settings
from django.urls import translate_url
from django.utils.functional import SimpleLazyObject


def languages(request):
    """The current page in every language, for the switcher and hreflang links.

    Views whose URLs carry translated slugs put their own ``alternate_urls`` in the context;
    this default translates the path's fixed parts and keeps its arguments. It is worked out
    only when a template reads it (``alternate_urls|default:default_alternate_urls`` does not
    when the view gave its own): translating a path resolves it again for each language.
    """
    return {"default_alternate_urls": SimpleLazyObject(lambda: _alternate_urls(request))}


def _alternate_urls(request) -> dict[str, str]:
    path = request.get_full_path()
    return {code: translate_url(path, code) for code, _name in settings.LANGUAGES}
