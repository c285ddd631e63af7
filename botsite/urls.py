from django.contrib import admin
from django.urls import include, path

from botsite import health

admin.site.site_header = "Botsite"
admin.site.site_title = "Botsite admin"
admin.site.index_title = "Bots, conversations and publishing"

urlpatterns = [
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("integrations.urls")),
    path("", include("conversations.urls")),
]
