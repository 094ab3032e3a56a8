from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from academy.accounts.models import User
from academy.accounts.throttle import (
    DEVICE_COOKIE,
    LOGIN_ACCOUNT,
    LOGIN_PAIR,
    device_is_known,
    login_keys,
    password_reset_keys,
    throttle_claim,
    throttle_clear,
    throttle_failure,
    throttle_release,
)
from academy.net import client_ip


def sign_in_wait_message(seconds: int) -> str:
    if seconds < 120:
        return ngettext(
            "Too many failed sign-in attempts. Try again in %(count)d second.",
            "Too many failed sign-in attempts. Try again in %(count)d seconds.",
            seconds,
        ) % {"count": seconds}
    minutes = -(-seconds // 60)
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(count)d minute.",
        "Too many failed sign-in attempts. Try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}


def password_reset_wait_message(seconds: int) -> str:
    if seconds < 120:
        return ngettext(
            "Too many password reset requests. Try again in %(count)d second; links we "
            "already sent still work.",
            "Too many password reset requests. Try again in %(count)d seconds; links we "
            "already sent still work.",
            seconds,
        ) % {"count": seconds}
    minutes = -(-seconds // 60)
    return ngettext(
        "Too many password reset requests. Try again in %(count)d minute; links we "
        "already sent still work.",
        "Too many password reset requests. Try again in %(count)d minutes; links we "
        "already sent still work.",
        minutes,
    ) % {"count": minutes}


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("Used only to reset your password."),
    )

    class Meta:
        model = User
        fields = ("username", "email", "preferred_language")


class ThrottledLoginMixin:
    """Growing delays per (account, address), per address, and per account for browsers that
    are not the account's known devices (see throttle.py).

    ``retry_after`` holds the wait, in seconds, when the attempt was refused unchecked; the
    view answers 429 with it.
    """

    retry_after = 0

    def clean(self):
        username = str(self.data.get("username", ""))
        address = client_ip(self.request) if self.request else "unknown"
        keys = login_keys(username=username, address=address)
        cookie = self.request.COOKIES.get(DEVICE_COOKIE) if self.request else None
        if device_is_known(cookie=cookie, username=username):
            claim = [key for key in keys if key[0] is not LOGIN_ACCOUNT]
        else:
            claim = keys
        wait = throttle_claim(claim)
        if wait:
            self.retry_after = wait
            raise forms.ValidationError(sign_in_wait_message(wait), code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle_failure(keys)
            raise
        except BaseException:
            throttle_release(claim)
            raise
        # Success clears the account's counts, not the address's: signing in to one's own
        # account must not wipe the count of an address that guessed at others.
        throttle_clear([key for key in keys if key[0] in (LOGIN_PAIR, LOGIN_ACCOUNT)])
        throttle_release(keys)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ThrottledPasswordResetForm(PasswordResetForm):
    """Every request counts, per target e-mail and per address, known account or not."""

    retry_after = 0

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email:
            address = client_ip(self.request) if self.request else "unknown"
            keys = password_reset_keys(email=email, address=address)
            wait = throttle_claim(keys)
            if wait:
                self.retry_after = wait
                raise forms.ValidationError(password_reset_wait_message(wait), code="throttled")
            throttle_failure(keys)
        return cleaned


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "preferred_language")
