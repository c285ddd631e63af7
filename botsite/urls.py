from django.contrib import admin
from django.urls import include, path

from botsite import health
from publishers import views as publisher_views

handler500 = "botsite.database_outage.server_error"

admin.site.site_header = "Botsite"
admin.site.site_title = "Botsite admin"
admin.site.index_title = "Bots, conversations and publishing"

urlpatterns = [
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("integrations.urls")),
    path(
        "publishing/unsubscribe/<str:token>/",
        publisher_views.unsubscribe,
        name="publishing-unsubscribe",
    ),
    path("", include("chat.urls")),
]
