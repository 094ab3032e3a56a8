from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class PreferredLanguageMiddleware(LocaleMiddleware):
    """LocaleMiddleware that lets a signed-in reader's profile pick the language.

    The URL prefix always wins (a /es/ page is Spanish). Where the URL has no prefix, as at
    ``/``, the profile comes before the cookie and Accept-Language, so a reader who chose Spanish
    gets Spanish on any device they sign in from.
    """

    def process_request(self, request):
        user = getattr(request, "user", None)
        prefixed = translation.get_language_from_path(request.path_info)
        if not prefixed and user is not None and user.is_authenticated:
            preferred = user.preferred_language
            if preferred in dict(settings.LANGUAGES):
                translation.activate(preferred)
                request.LANGUAGE_CODE = translation.get_language()
                return
        super().process_request(request)
