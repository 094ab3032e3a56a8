from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import site as admin_site
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy, translate_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from academy.accounts.forms import (
    LanguagePromptForm,
    ProfileForm,
    SignUpForm,
    ThrottledAdminAuthenticationForm,
    ThrottledAuthenticationForm,
    ThrottledPasswordResetForm,
)
from academy.accounts.middleware import DECLINED_LANGUAGES_KEY
from academy.accounts.throttle import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, device_cookie_value
from academy.certifications.selectors import certificates_of_user
from labs.services import limits


def _remember_language(response, language: str):
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        secure=getattr(settings, "LANGUAGE_COOKIE_SECURE", False),
    )
    return response


def _in_language(url: str, language: str) -> str:
    """The same page in another language.

    URLs resolve only in their own language, so resolve under the language of the URL's
    prefix and reverse in the target one. Views with translated slugs redirect the rest.
    """
    source = translation.get_language_from_path(urlsplit(url).path) or settings.LANGUAGE_CODE
    with translation.override(source):
        return translate_url(url, language)


def _safe_next(request, next_url: str, language: str) -> str:
    """``next_url`` when it stays on this site, else the home page in ``language``."""
    if not next_url or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        with translation.override(language):
            return reverse("home")
    return next_url


@require_POST
def language_switch(request):
    """Switch language, stay on the same page, and remember the choice in this browser.

    The profile's preferred language (e-mails, certificates) is not changed here: the page then
    asks the signed-in reader whether to change it (language_prompt below).
    """
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    next_url = _safe_next(request, request.POST.get("next", ""), language)
    return _remember_language(HttpResponseRedirect(_in_language(next_url, language)), language)


# What "Yes" says, in the language just chosen: whole sentences, one per language.
PREFERRED_LANGUAGE_SAVED = {
    "en": gettext_lazy("English is now your preferred language, for e-mails and certificates too."),
    "es": gettext_lazy("Spanish is now your preferred language, for e-mails and certificates too."),
}


def _prompt_refusal(request, message: str, status: int) -> HttpResponse:
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@login_required
@require_POST
def language_prompt(request):
    """The signed-in reader's answer to "Make Spanish your preferred language?".

    Yes saves it on the reader's own profile (request.user: there is no other user to name);
    No thanks is remembered for the session, so the prompt is not shown again for that
    language. The script (static/js/language.js) asks for JSON; without it, the form posts here
    and comes back to the page it was on.
    """
    try:
        limits.rate_limit(
            "language_prompt", user=request.user, address=limits.client_address(request)
        )
    except limits.LabRateLimited as error:
        response = _prompt_refusal(request, str(error), 429)
        response["Retry-After"] = str(error.retry_after)
        return response
    form = LanguagePromptForm(request.POST)
    if not form.is_valid():
        return _prompt_refusal(request, str(next(iter(form.errors.values()))[0]), 400)
    language = form.cleaned_data["language"]
    message = ""
    if form.cleaned_data["answer"] == "yes":
        if request.user.preferred_language != language:
            request.user.preferred_language = language
            request.user.save(update_fields=["preferred_language"])
        with translation.override(language):
            message = str(PREFERRED_LANGUAGE_SAVED.get(language, _("Your profile has been saved.")))
    else:
        declined = list(request.session.get(DECLINED_LANGUAGES_KEY, []))
        if language not in declined:
            request.session[DECLINED_LANGUAGES_KEY] = [*declined, language]
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"answer": form.cleaned_data["answer"], "message": message})
    else:
        if message:
            messages.success(request, message)
        next_url = _safe_next(request, form.cleaned_data["next"], translation.get_language())
        response = HttpResponseRedirect(next_url)
    return _remember_language(response, language) if message else response


def sign_up(request):
    if request.user.is_authenticated:
        return redirect("courses:dashboard")
    initial = {"preferred_language": translation.get_language()}
    form = SignUpForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome aboard! Your account is ready."))
        with translation.override(user.preferred_language):
            target = reverse("courses:dashboard")
        return _remember_language(redirect(target), user.preferred_language)
    return render(request, "registration/signup.html", {"form": form})


def _remember_device(request, response, user):
    """A signed cookie saying this browser signed in to this account (throttle.py)."""
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie_value(
            cookie=request.COOKIES.get(DEVICE_COOKIE), username=user.get_username()
        ),
        max_age=DEVICE_COOKIE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _too_many_requests(response, form):
    """429 with Retry-After when the throttle refused the attempt (the form says why)."""
    if getattr(form, "retry_after", 0):
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


class SignInView(LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        return _too_many_requests(super().form_invalid(form), form)

    def form_valid(self, form):
        response = super().form_valid(form)
        language = form.get_user().preferred_language
        if not self.get_redirect_url():
            with translation.override(language):
                response = HttpResponseRedirect(reverse("courses:dashboard"))
        _remember_device(self.request, response, form.get_user())
        return _remember_language(response, language)


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        with translation.override(user.preferred_language):
            messages.success(request, _("Your profile has been saved."))
            target = reverse("accounts:profile")
        return _remember_language(redirect(target), user.preferred_language)
    context = {"form": form, "certificates": certificates_of_user(user=request.user)}
    return render(request, "accounts/profile.html", context)


def admin_login(request, extra_context=None):
    """The admin's sign-in page, with the site's throttling (academy/urls.py puts it first)."""
    admin_site.login_form = ThrottledAdminAuthenticationForm  # what admin_site.login builds
    response = admin_site.login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if request.method == "POST" and response.status_code == 302 and request.user.is_authenticated:
        _remember_device(request, response, request.user)
    return _too_many_requests(response, form)


class SitePasswordResetView(PasswordResetView):
    """Throttled, and its links point at SITE_URL, never at the request's Host header."""

    form_class = ThrottledPasswordResetForm
    success_url = reverse_lazy("accounts:password_reset_done")
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        # PasswordResetView.form_valid takes the domain from the request: do its job here.
        site = urlsplit(settings.SITE_URL)
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context=self.extra_email_context,
        )
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        return _too_many_requests(super().form_invalid(form), form)
