from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

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


# Django's own messages for these speak to learners as "usted" in Spanish: ours say "tú".
PASSWORD_MISMATCH = _("The two passwords don't match. Type the same password in both fields.")
PASSWORD_AGAIN_HELP = _("Type the same password again, to check it.")
TOO_LONG = ngettext_lazy(
    "Keep this to at most %(limit_value)d character (it has %(show_value)d).",
    "Keep this to at most %(limit_value)d characters (it has %(show_value)d).",
    "limit_value",
)


# The mixins below go before a Django form class: for the type checker they are forms.
if TYPE_CHECKING:
    from django.db.models.fields import _ErrorMessagesDict

    _FormBase = forms.BaseForm
else:
    _FormBase = object


class SiteVoiceMixin(_FormBase):
    """Replaces the messages Django's fields would show with ours, by error code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            messages = {"max_length": TOO_LONG}
            if isinstance(field, forms.EmailField):
                messages["invalid"] = _("Enter a valid e-mail address, like ana@example.org.")
            if isinstance(field, forms.ChoiceField):
                messages["invalid_choice"] = _("Choose one of the options in the list.")
            field.error_messages = {**field.error_messages, **messages}


class SitePasswordFieldsMixin(SiteVoiceMixin):
    """Labels, help texts and the mismatch message of the two new-password fields."""

    error_messages: "_ErrorMessagesDict" = {"password_mismatch": PASSWORD_MISMATCH}
    password_field_names = ("password1", "password2")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        first, second = (self.fields[name] for name in self.password_field_names)
        first.label = _("Password")
        first.help_text = password_validation.password_validators_help_text_html()
        second.label = _("Confirm your password")
        second.help_text = PASSWORD_AGAIN_HELP


class SignUpForm(SitePasswordFieldsMixin, UserCreationForm):
    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("Used only to reset your password."),
    )

    class Meta:
        model = User
        fields: tuple[str, ...] = ("username", "email", "preferred_language")
        help_texts = {
            "username": _("Up to 150 characters: letters, digits and @ . + - _ only."),
        }
        error_messages = {
            "username": {
                # Django's Spanish says "Ya existe un usuario con este nombre."
                "unique": _("That username is taken. Choose another one."),
                "invalid": _(
                    "Use only letters, digits and @ . + - _ in your username (no spaces)."
                ),
            },
        }


class SiteSetPasswordForm(SitePasswordFieldsMixin, SetPasswordForm):
    """The new password chosen from a password-reset link."""

    password_field_names = ("new_password1", "new_password2")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("New password")
        self.fields["new_password2"].label = _("Confirm your new password")


if TYPE_CHECKING:
    _LoginFormBase = AuthenticationForm
else:
    _LoginFormBase = object


class ThrottledLoginMixin(_LoginFormBase):
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


class ThrottledAuthenticationForm(ThrottledLoginMixin, SiteVoiceMixin, AuthenticationForm):
    error_messages = {
        # Translators: %(username)s is the name of the field, "username".
        "invalid_login": _(
            "Enter a correct %(username)s and password. Both may be case-sensitive."
        ),
        "inactive": _("This account is inactive."),
    }


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ThrottledPasswordResetForm(SiteVoiceMixin, PasswordResetForm):
    """Every request counts, per target e-mail and per address, known account or not."""

    retry_after = 0

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("E-mail address")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
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


class ProfileForm(SiteVoiceMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "preferred_language")


class LanguagePromptForm(forms.Form):
    """The answer to "Make Spanish your preferred language?" (partials/language_prompt.html).

    No user field: the answer is always about the signed-in reader (request.user).
    """

    language = forms.ChoiceField(
        choices=settings.LANGUAGES,
        error_messages={
            "required": _("Choose a language this site offers: English or Spanish."),
            "invalid_choice": _("Choose a language this site offers: English or Spanish."),
        },
    )
    answer = forms.ChoiceField(
        choices=[("yes", _("Yes")), ("no", _("No thanks"))],
        error_messages={
            "required": _("Answer Yes or No thanks."),
            "invalid_choice": _("Answer Yes or No thanks."),
        },
    )
    next = forms.CharField(required=False, max_length=2000)
