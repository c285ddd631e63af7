# One image for every production process; the command picks which:
#   daphne ... botsite.asgi:application                    (default, below)
#   celery -A botsite worker -l INFO
#   celery -A botsite beat -l INFO
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN groupadd --system botsite && useradd --system --gid botsite --home /app botsite

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings that load; this throwaway key never reaches a running container.
RUN DEBUG=false ALLOWED_HOSTS=build SECRET_KEY=collectstatic-only-0123456789abcdefghijklmnopqrstuvwxyz \
    python manage.py collectstatic --noinput \
    && chown -R botsite:botsite /app

USER botsite
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=3)" || exit 1
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", \
     "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536", \
     "botsite.asgi:application"]
