from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from academy.accounts.models import User


@admin.register(User)
class AcademyUserAdmin(UserAdmin):
    fieldsets = (*(UserAdmin.fieldsets or ()), (_("Academy"), {"fields": ("preferred_language",)}))
    list_display = ("username", "email", "preferred_language", "is_staff", "date_joined")
