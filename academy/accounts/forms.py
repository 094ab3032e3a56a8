from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from academy.accounts.models import User
from academy.accounts.throttle import (
    login_failure_record,
    login_failures_clear,
    login_is_throttled,
)


def client_address(request) -> str:
    # Behind the production reverse proxy REMOTE_ADDR is the proxy; it passes the client on.
    forwarded = request.META.get("HTTP_X_REAL_IP")
    return forwarded or request.META.get("REMOTE_ADDR", "unknown")


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("Used only to reset your password and to send your certificates."),
    )

    class Meta:
        model = User
        fields = ("username", "email", "preferred_language")


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _(
            "Too many failed sign-in attempts. Please wait a few minutes and try again."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request else "unknown"
        if login_is_throttled(username=username, address=address):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failure_record(username=username, address=address)
            raise
        login_failures_clear(username=username)
        return cleaned


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "preferred_language")
