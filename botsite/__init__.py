# Loaded with Django so that `shared_task` binds to our app in every process.
from botsite.celery import app as celery_app

__all__ = ("celery_app",)
