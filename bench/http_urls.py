"""The site's URLs and a minimal view: the baseline of the page figures, served by the same
server through the same middleware (sessions, CSRF, CSP, locale...)."""

from django.http import HttpResponse
from django.urls import path

from academy import urls as site_urls

BARE_PATH = "/bench-bare/"


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path(BARE_PATH.strip("/") + "/", bare), *site_urls.urlpatterns]
