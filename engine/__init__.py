"""The conversation engine: plain Python, no models, HTTP, WebSocket or Celery."""
