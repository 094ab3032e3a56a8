"""Annotations for the site's people: who a request comes from."""

from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from academy.accounts.models import User

# request.user: a signed-in user or a visitor.
Visitor = User | AnonymousUser


class AuthenticatedRequest(HttpRequest):
    """A request from a signed-in user: what a view behind @login_required receives. Only
    for annotations; Django makes plain HttpRequests."""

    user: User


def signed_in(user: Visitor | None) -> User | None:
    """``user`` when signed in, else None (no user, or a visitor)."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return None
    return user


def authenticated(request: HttpRequest) -> AuthenticatedRequest:
    """``request`` as a signed-in user's: for decorators that have just checked it is."""
    return cast(AuthenticatedRequest, request)
