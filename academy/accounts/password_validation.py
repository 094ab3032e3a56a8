"""Django's password validators with their messages in the site's voice.

Django's Spanish catalogue speaks to learners as "usted" ("Su contraseña…"); these subclasses
keep Django's checks and give every message and help text an English source string of ours,
translated in our catalogue with "tú". AUTH_PASSWORD_VALIDATORS names them.
"""

from django.contrib.auth import password_validation
from django.utils.translation import gettext, ngettext


class UserAttributeSimilarityValidator(password_validation.UserAttributeSimilarityValidator):
    def get_error_message(self) -> str:
        # Translators: %(verbose_name)s is a field of the account, e.g. "username".
        return gettext("Your password is too similar to your %(verbose_name)s.")

    def get_help_text(self) -> str:
        return gettext("Your password can't be too similar to your other personal information.")


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self) -> str:
        # Left unformatted: the ValidationError fills in %(min_length)d from its params.
        return ngettext(
            "This password is too short. It must have at least %(min_length)d character.",
            "This password is too short. It must have at least %(min_length)d characters.",
            self.min_length,
        )

    def get_help_text(self) -> str:
        return ngettext(
            "Your password must have at least %(min_length)d character.",
            "Your password must have at least %(min_length)d characters.",
            self.min_length,
        ) % {"min_length": self.min_length}


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    def get_error_message(self) -> str:
        return gettext("This password is too common. Choose one that is harder to guess.")

    def get_help_text(self) -> str:
        return gettext("Your password can't be a commonly used password.")


class NumericPasswordValidator(password_validation.NumericPasswordValidator):
    def get_error_message(self) -> str:
        return gettext("This password has only digits. Add some letters or symbols.")

    def get_help_text(self) -> str:
        return gettext("Your password can't be only digits.")
