"""Secrets kept at rest sealed (Fernet: AES-CBC with an HMAC), with keys from settings.

`CONNECTOR_SECRET_KEYS` lists the keys newest first: sealing uses the first, opening tries
each, so a new key can be put in front and old rows resealed at leisure.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SealBroken(Exception):
    """A sealed value none of the keys opens (a key was removed, or the row was altered)."""


def _keys() -> MultiFernet:
    keys = settings.CONNECTOR_SECRET_KEYS
    if not keys:
        raise ImproperlyConfigured(
            "Set CONNECTOR_SECRET_KEYS to seal connector passwords (see .env.example)."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            f"CONNECTOR_SECRET_KEYS holds a key that is not a Fernet key: {error}"
        ) from error


def seal(secret: str) -> str:
    """The secret sealed with the newest key; an empty secret stays empty."""
    return _keys().encrypt(secret.encode()).decode() if secret else ""


def unseal(sealed: str) -> str:
    """The secret a `seal` made, with any of the keys; an empty value stays empty."""
    if not sealed:
        return ""
    try:
        return _keys().decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise SealBroken("no key in CONNECTOR_SECRET_KEYS opens this secret") from error
