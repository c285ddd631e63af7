"""The product's URLs plus a bare DRF view, so both are measured on one server."""

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class BareView(APIView):
    """(d) The REST ceiling: the same DRF stack (token auth, throttle, JSON parser), no work."""

    def post(self, request: Request) -> Response:
        return Response({"received": len(request.data)})


urlpatterns = [
    path("bench/drf/", BareView.as_view()),
    path("", include("botsite.urls")),
]
