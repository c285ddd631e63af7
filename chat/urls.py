from django.urls import path

from chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("chat/<slug:bot_slug>/", views.chat_page, name="chat"),
    path("widget.js", views.widget_script, name="widget"),
]
