"""Certificates, their credentials and status lists, and the issuer.

These paths are not translated, unlike the site's other pages: they are inside signed
credentials (ids, status lists, the issuer's page) and printed on certificates as QR codes, so
they must never change, whatever the catalogue says. Only the language prefix differs.
"""

from django.urls import path

from academy.certifications import certificate_views as views

urlpatterns = [
    path("certificates/", views.my_certificates, name="certificates"),
    path("certificates/verify/", views.verify_file, name="certificate_verify"),
    path(
        "certificates/status/<str:key>/",
        views.status_list,
        name="status_list",
    ),
    path("certificates/<uuid:public_id>/", views.certificate_detail, name="certificate"),
    path(
        "certificates/<uuid:public_id>/credential.json",
        views.certificate_credential,
        name="certificate_credential",
    ),
    path(
        "certificates/<uuid:public_id>/certificate.pdf",
        views.certificate_pdf,
        name="certificate_pdf",
    ),
    path("issuer/", views.issuer, name="issuer"),
    path("issuer/profile.json", views.issuer_profile_json, name="issuer_profile"),
    path(
        "issuer/certifications/<slug:key>/",
        views.issuer_certification,
        name="issuer_certification",
    ),
]
