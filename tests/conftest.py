import pytest
from django.conf import settings
from django.core.cache import cache

from academy.courses.services import content_sync
from tests.content_tree import write_demo_course


@pytest.fixture(autouse=True)
def _fast_passwords_and_clean_cache(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo_content(tmp_path):
    write_demo_course(tmp_path)
    return tmp_path


@pytest.fixture
def real_content(db):
    """The project's own content/, synced into the test database."""
    return content_sync(root=settings.CONTENT_DIR)
