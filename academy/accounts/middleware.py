from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

# The languages a signed-in reader said "No thanks" to making their preferred one, this session.
DECLINED_LANGUAGES_KEY = "language_prompt_declined"


def language_to_offer(request) -> str:
    """The page's language when a signed-in reader reads in a language other than their
    profile's and has not declined it this session: the language prompt offers it; else ""."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    if not user.email:  # a workshop guest (a display name only): no e-mails, no certificates
        return ""
    current = translation.get_language()
    if current not in dict(settings.LANGUAGES) or current == user.preferred_language:
        return ""
    if current in request.session.get(DECLINED_LANGUAGES_KEY, []):
        return ""
    return current


class PreferredLanguageMiddleware(LocaleMiddleware):
    """LocaleMiddleware that lets a signed-in reader's profile pick the language.

    The URL prefix always wins (a /es/ page is Spanish, whatever the profile says: the header's
    language switch leads to the prefixed page, so the reader is never sent back). Where the URL
    has no prefix, as at ``/``, the profile comes before the cookie and Accept-Language, so a
    reader who chose Spanish gets Spanish on any device they sign in from.

    ``request.language_prompt`` is the language the page offers to make the reader's preferred
    one (templates/partials/language_prompt.html), or "".
    """

    def process_request(self, request):
        self._activate(request)
        request.language_prompt = language_to_offer(request)

    def _activate(self, request):
        user = getattr(request, "user", None)
        prefixed = translation.get_language_from_path(request.path_info)
        if not prefixed and user is not None and user.is_authenticated:
            preferred = user.preferred_language
            if preferred in dict(settings.LANGUAGES):
                translation.activate(preferred)
                request.LANGUAGE_CODE = translation.get_language()
                return
        super().process_request(request)
