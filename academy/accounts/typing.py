"""Annotations for the site's people: who a request comes from."""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from academy.accounts.models import User

# request.user: a signed-in user or a visitor.
Visitor = User | AnonymousUser


class AuthenticatedRequest(HttpRequest):
    """A request from a signed-in user: what a view behind @login_required receives. Only
    for annotations; Django makes plain HttpRequests."""

    user: User
