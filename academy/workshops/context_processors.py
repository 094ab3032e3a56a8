from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from academy.workshops.selectors import user_is_instructor


def instructor(request: HttpRequest) -> dict[str, object]:
    """Whether the header shows the instructor's Workshops link; asked only when a page that
    is signed in renders the header (one query, at most, per page)."""
    return {"is_instructor": SimpleLazyObject(lambda: user_is_instructor(request.user))}
