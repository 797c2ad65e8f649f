"""Credentials in the OS keyring, and nowhere else.

TradingView's username, password and TOTP secret and the LLM API key are read and written
only through the `keyring` package, so its standard backend selection applies (the desktop's
Secret Service, macOS Keychain, Windows Credential Locker, or `PYTHON_KEYRING_BACKEND`). When
no usable backend exists the error says what to install instead of failing obscurely. Values
never pass through config, logs, reports or the run store; `mask` hides them in any text that
might leave the process (diagnostics, error messages).

Not every backend protects what it stores: keyrings.alt's PlaintextKeyring (which keyring picks
by itself when it is installed and no Secret Service runs) writes an unencrypted file.
`keyring_security` says which kind of backend is active, why it matters and how to get a secure
one on this OS; the front-ends refuse to store a secret in a plaintext backend unless the user
confirms (`tvdesk credentials set --allow-plaintext-keyring`, a checkbox in the GUI).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from tvdesk.errors import InputError, TvdeskError

SERVICE = "tvdesk"
Account = Literal["tradingview", "llm"]
FIELDS: dict[Account, tuple[str, ...]] = {
    "tradingview": ("username", "password", "totp_secret"),
    "llm": ("api_key",),
}

# Fields that are secrets: storing them in a plaintext backend needs the user's confirmation.
# The TradingView username is not one (it is shown in the dialog as plain text).
SECRET_FIELDS: dict[Account, tuple[str, ...]] = {
    "tradingview": ("password", "totp_secret"),
    "llm": ("api_key",),
}

INSTALL_HINT = (
    "no usable keyring backend: on a desktop, run a Secret Service (GNOME Keyring or KWallet) "
    "or the OS keychain; on a headless machine, `pip install keyrings.cryptfile` and set "
    "PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring (an encrypted file), "
    "or `pip install keyrings.alt` for its PlaintextKeyring (an unencrypted file: tvdesk asks "
    "before storing secrets in it)"
)


class KeyringUnavailable(TvdeskError):
    """No keyring backend can store or read secrets here."""


def _keyring():  # imported lazily: backend discovery costs time at import
    import keyring
    import keyring.errors

    return keyring, keyring.errors


def backend_name() -> str:
    """The active backend's module.Class, for `credentials` output and diagnostics."""
    keyring, _ = _keyring()
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


# ----------------------------------------------------------------------------- backend security

Security = Literal["secure", "plaintext", "unusable", "unknown"]

# Known backends by module.Class (matched along the class's MRO, so subclasses count too): the
# kind and the words the status bar shows.
_KNOWN_BACKENDS: dict[str, tuple[Security, str]] = {
    "keyring.backends.SecretService.Keyring": ("secure", "Secret Service"),
    "keyring.backends.libsecret.Keyring": ("secure", "Secret Service (libsecret)"),
    "keyring.backends.kwallet.DBusKeyring": ("secure", "KWallet"),
    "keyring.backends.macOS.Keyring": ("secure", "macOS Keychain"),
    "keyring.backends.Windows.WinVaultKeyring": ("secure", "Windows Credential Locker"),
    "keyrings.alt.Gnome.Keyring": ("secure", "GNOME Keyring"),
    "keyrings.alt.file.EncryptedKeyring": ("secure", "encrypted file"),
    "keyrings.alt.Windows.EncryptedKeyring": ("secure", "encrypted file (Windows)"),
    "keyrings.alt.Windows.RegistryKeyring": ("secure", "Windows registry (encrypted)"),
    "keyrings.cryptfile.cryptfile.CryptFileKeyring": ("secure", "encrypted file"),
    "keyrings.alt.file.PlaintextKeyring": ("plaintext", "plaintext file (not secure)"),
    "keyrings.alt.pyfs.PlaintextKeyring": ("plaintext", "plaintext file (not secure)"),
    "keyring.backends.fail.Keyring": ("unusable", "unavailable"),
    "keyring.backends.null.Keyring": ("unusable", "none (stores nothing)"),
}


@dataclass(frozen=True)
class KeyringSecurity:
    """What the active keyring backend does with a secret, in words a user can act on."""

    backend: str  # module.Class of the active backend
    kind: Security
    label: str  # short, for the status bar: "Secret Service", "plaintext file (not secure)"
    explanation: str  # one or two sentences: where the secrets end up
    advice: str  # how to get a secure backend on this OS (empty when it is secure)

    @property
    def secure(self) -> bool:
        return self.kind == "secure"

    @property
    def needs_confirmation(self) -> bool:
        """Storing a secret here is refused unless the user confirms."""
        return self.kind == "plaintext"


def secure_backend_advice(platform: str | None = None) -> str:
    """How to get a secure keyring backend on this OS (`platform` as in sys.platform)."""
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        return ("The macOS Keychain is keyring's default on macOS: unset PYTHON_KEYRING_BACKEND "
                "and remove any keyringrc.cfg that selects another backend "
                "(`python -m keyring diagnose` shows where it is).")
    if platform.startswith("win"):
        return ("The Windows Credential Locker is keyring's default on Windows: unset "
                "PYTHON_KEYRING_BACKEND and remove any keyringrc.cfg that selects another "
                "backend (`python -m keyring diagnose` shows where it is).")
    return ("On a Linux desktop, install and unlock a Secret Service: GNOME Keyring "
            "(`sudo apt install gnome-keyring`, Fedora `sudo dnf install gnome-keyring`) or "
            "KWallet, running in your desktop session (it needs the session's D-Bus), then "
            "restart tvdesk. On a headless server, `pip install keyrings.cryptfile` and set the "
            "environment variable PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile."
            "CryptFileKeyring (an encrypted file; it asks for its password on the terminal).")


def _classify(backend: Any, platform: str) -> KeyringSecurity:
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    lineage = [f"{cls.__module__}.{cls.__qualname__}" for cls in type(backend).__mro__]
    advice = secure_backend_advice(platform)
    if "keyring.backends.chainer.ChainerBackend" in lineage:
        chained = list(getattr(backend, "backends", []))
        if not chained:
            return KeyringSecurity(name, "unusable", "unavailable",
                                   "No keyring backend is available to store secrets.", advice)
        # Writes go to the first (highest priority) backend of the chain.
        first = _classify(chained[0], platform)
        return KeyringSecurity(name, first.kind, first.label, first.explanation, first.advice)
    if "keyrings.alt.multi.MultipartKeyringWrapper" in lineage and hasattr(backend, "_keyring"):
        inner = _classify(backend._keyring, platform)
        return KeyringSecurity(name, inner.kind, inner.label, inner.explanation, inner.advice)
    kind: Security = "unknown"
    label = type(backend).__name__
    for ancestor in lineage:
        known = _KNOWN_BACKENDS.get(ancestor)
        if known is not None:
            kind, label = known
            break
    else:
        if "plaintext" in name.lower():
            kind, label = "plaintext", "plaintext file (not secure)"
    if kind == "secure":
        return KeyringSecurity(name, kind, label, f"Secrets are kept encrypted by the {label}.",
                               "")
    if kind == "plaintext":
        where = getattr(backend, "file_path", None)
        place = f" ({where})" if isinstance(where, str) else ""
        return KeyringSecurity(
            name, kind, label,
            f"The keyring backend is {name}: it writes secrets unencrypted to a file{place} "
            "that any program running as you, or anyone who gets a copy of the file or a "
            "backup, can read. keyring uses it when PYTHON_KEYRING_BACKEND or a keyringrc.cfg "
            "names it, or by itself when keyrings.alt is installed and no Secret Service or OS "
            "keychain is usable.", advice)
    if kind == "unusable":
        return KeyringSecurity(name, kind, label,
                               f"The keyring backend is {name}: it cannot keep secrets.", advice)
    return KeyringSecurity(name, kind, label,
                           f"The keyring backend is {name}, which tvdesk does not know; it is "
                           "trusted as configured.", "")


def keyring_security(platform: str | None = None) -> KeyringSecurity:
    """Classify the active keyring backend: secure, plaintext (needs confirmation), unusable."""
    keyring, _ = _keyring()
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a backend named in PYTHON_KEYRING_BACKEND that cannot load
        raise KeyringUnavailable(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})") from None
    return _classify(backend, sys.platform if platform is None else platform)


def keyring_status() -> str:
    """The status bar's words for the keyring, e.g. "plaintext file (not secure)"; never
    raises."""
    try:
        return keyring_security().label
    except Exception:  # a broken keyring install must not break the status bar
        return "unavailable"


class InsecureKeyring(InputError):
    """A secret would go to a plaintext keyring backend and the user has not confirmed it."""


def check_storable(account: Account, fields: Iterable[str], *, allow_plaintext: bool,
                   confirm_hint: str) -> KeyringSecurity:
    """Refuse (InsecureKeyring) to store secret `fields` of `account` in a plaintext backend
    without the user's confirmation, and (KeyringUnavailable) in one that keeps nothing.

    `confirm_hint` says how to confirm in the caller's front-end (a flag, a checkbox).
    """
    security = keyring_security()
    secrets = [f for f in fields if f in SECRET_FIELDS[account]]
    if security.kind == "unusable" and secrets:
        raise KeyringUnavailable(f"{INSTALL_HINT} ({security.backend})")
    if security.needs_confirmation and secrets and not allow_plaintext:
        what = " and ".join(f.replace("totp_secret", "TOTP secret").replace("api_key", "API key")
                            for f in secrets)
        raise InsecureKeyring(
            f"refusing to store the {what} in a plaintext keyring. {security.explanation} "
            f"{security.advice} {confirm_hint}", source=f"credentials {account}")
    return security


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
