"""Credentials in the OS keyring, and nowhere else.

TradingView's username, password and TOTP secret and the LLM API key are read and written
only through the `keyring` package, so its standard backend selection applies (the desktop's
Secret Service, macOS Keychain, Windows Credential Locker, or `PYTHON_KEYRING_BACKEND`). When
no usable backend exists the error says what to install instead of failing obscurely. Values
never pass through config, logs, reports or the run store; `mask` hides them in any text that
might leave the process (diagnostics, error messages).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Literal

from tvdesk.errors import InputError, TvdeskError

SERVICE = "tvdesk"
Account = Literal["tradingview", "llm"]
FIELDS: dict[Account, tuple[str, ...]] = {
    "tradingview": ("username", "password", "totp_secret"),
    "llm": ("api_key",),
}

INSTALL_HINT = (
    "no usable keyring backend: on a desktop, run a Secret Service (GNOME Keyring or KWallet) "
    "or the OS keychain; on a headless machine, `pip install keyrings.alt` and set "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring (unencrypted file)"
)


class KeyringUnavailable(TvdeskError):
    """No keyring backend can store or read secrets here."""


def _keyring():  # imported lazily: backend discovery costs time at import
    import keyring
    import keyring.errors

    return keyring, keyring.errors


def backend_name() -> str:
    """The active backend, for the status bar and `credentials` output."""
    keyring, _ = _keyring()
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _key(account: Account, field: str) -> str:
    if field not in FIELDS[account]:
        raise ValueError(f"unknown credential field {field!r} for {account}")
    return f"{account}:{field}"


def get_secret(account: Account, field: str) -> str | None:
    keyring, errors = _keyring()
    try:
        return keyring.get_password(SERVICE, _key(account, field))
    except errors.KeyringError as exc:
        raise KeyringUnavailable(f"{INSTALL_HINT} ({type(exc).__name__})") from None


def set_secret(account: Account, field: str, value: str) -> None:
    keyring, errors = _keyring()
    try:
        keyring.set_password(SERVICE, _key(account, field), value)
    except errors.KeyringError as exc:
        raise KeyringUnavailable(f"{INSTALL_HINT} ({type(exc).__name__})") from None


def delete_secret(account: Account, field: str) -> bool:
    """Delete one stored field; False when there was nothing to delete."""
    keyring, errors = _keyring()
    try:
        keyring.delete_password(SERVICE, _key(account, field))
    except errors.PasswordDeleteError:
        return False
    except errors.KeyringError as exc:
        raise KeyringUnavailable(f"{INSTALL_HINT} ({type(exc).__name__})") from None
    return True


def delete_secrets(account: Account) -> int:
    """Delete every stored field of an account; returns how many existed."""
    return sum(delete_secret(account, field) for field in FIELDS[account])


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each (non-trivial) secret with ****."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    return text


def known_secrets() -> list[str]:
    """Every secret currently stored, for masking text before it leaves the process."""
    values: list[str] = []
    for account, fields in FIELDS.items():
        for field in fields:
            try:
                value = get_secret(account, field)
            except KeyringUnavailable:
                return values
            if value:
                values.append(value)
    return values


# ----------------------------------------------------------------------------- TOTP
# The 2FA code is derived from a stored secret: it lives here, beside the secret, so the
# TradingView sign-in (an engine) and the credentials dialog (the app) share it without the
# engine reaching up into the application layer.


def validate_totp_secret(text: str) -> str:
    """The TOTP secret as stored (spaces removed, upper case), or InputError if not base32.

    Authenticator apps show the secret in groups of four, often lower case: both are accepted.
    """
    import base64
    import binascii

    cleaned = "".join(text.split()).upper()
    if not cleaned:
        raise InputError("the TOTP secret is empty", source="credentials tradingview")
    try:  # plain base32 check: 16-character (80-bit) secrets are common and valid
        base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise InputError("the TOTP secret is not valid base32 (the text under the QR code "
                         "TradingView shows when you enable 2FA)",
                         source="credentials tradingview") from None
    return cleaned


TOTP_INTERVAL = 30  # seconds; TradingView uses the RFC 6238 default


@functools.cache
def _totp_class() -> type:
    import pyotp  # imported lazily, like keyring: only the 2FA paths need it

    class TOTP(pyotp.TOTP):
        # pyotp 2.12+ refuses secrets under 112 bits (NIST advice for new secrets), but the
        # 16-character (80-bit) secrets many services issue are still the user's real 2FA.
        min_secret_length_bits = 0

    return TOTP


def totp_code(secret: str, at: float | None = None) -> tuple[str, int]:
    """The current 6-digit code for a (valid) TOTP secret and the seconds left in its window.

    For the credentials dialog's preview, so a user can compare it with the authenticator app.
    """
    import time

    now = time.time() if at is None else at
    code = _totp_class()(validate_totp_secret(secret), interval=TOTP_INTERVAL).at(now)
    left = TOTP_INTERVAL - int(now) % TOTP_INTERVAL
    return code, left
