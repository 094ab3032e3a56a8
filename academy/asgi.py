"""ASGI entry point: Django for HTTP, Channels for websockets (the lab terminal)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "academy.settings")
# Set up Django before importing consumers, which import models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from academy.workshops.routing import websocket_urlpatterns as workshop_websockets  # noqa: E402
from labs.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # Browsers send Origin with every websocket; one that is not ours is refused, so that
        # another site cannot open a learner's terminal with the learner's cookies.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                # django.urls.path() patterns: types-channels wants its own pattern type.
                URLRouter(websocket_urlpatterns + workshop_websockets)  # type: ignore[arg-type]
            )
        ),
    }
)
