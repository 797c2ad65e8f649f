"""Which keyring backends keep secrets safely, and the refusal to store a secret in a plaintext
one without the user's confirmation: real keyring backends (keyrings.alt's plaintext file in
tmp_path), in-process."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, chainer, fail, null
from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

from tvdesk.app.credentials import ALLOW_PLAINTEXT_FLAG, set_credentials, store_credentials
from tvdesk.secrets import (
    InsecureKeyring,
    KeyringUnavailable,
    _classify,
    check_storable,
    get_secret,
    keyring_security,
    keyring_status,
    secure_backend_advice,
)

PASSWORD = "hunter2-SECRET-pw"
TOTP = "JBSWY3DPEHPK3PXP"
API_KEY = "sk-live-SECRET-key-123"


class MemorySecretService(SecretService.Keyring):
    """A Secret Service stand-in (its class lineage is the real one) keeping values in a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.values[(service, username)]


class ThirdPartyKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        pass

    def delete_password(self, service: str, username: str) -> None:
        pass


class MyPlaintextStore(ThirdPartyKeyring):
    pass


def _named(module: str, name: str) -> KeyringBackend:
    """An instance of a class that claims `module.name` (a backend of another OS)."""
    cls = type(name, (ThirdPartyKeyring,), {"__module__": module, "__qualname__": name})
    return cls()


@pytest.fixture
def use_backend():
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


@pytest.fixture
def plaintext(tmp_path: Path, use_backend) -> PlaintextKeyring:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    use_backend(backend)
    return backend


# ----------------------------------------------------------------------------- classification


def test_plaintext_file_backends_are_not_secure(tmp_path: Path) -> None:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "k.cfg")
    security = _classify(backend, "linux")
    assert security.kind == "plaintext" and not security.secure and security.needs_confirmation
    assert security.label == "plaintext file (not secure)"
    assert security.backend == "keyrings.alt.file.PlaintextKeyring"
    assert "unencrypted" in security.explanation and str(tmp_path / "k.cfg") in \
        security.explanation
    assert "gnome-keyring" in security.advice and "PYTHON_KEYRING_BACKEND" in security.advice
    assert "keyrings.cryptfile" in security.advice
    # a subclass, and an unknown backend calling itself plaintext, are plaintext too
    subclass = type("Mine", (PlaintextKeyring,), {})()
    assert _classify(subclass, "linux").kind == "plaintext"
    assert _classify(MyPlaintextStore(), "linux").kind == "plaintext"


def test_fail_null_and_empty_chains_cannot_keep_secrets() -> None:
    for backend in (fail.Keyring(), null.Keyring()):
        security = _classify(backend, "linux")
        assert security.kind == "unusable" and not security.secure
        assert not security.needs_confirmation
    assert _classify(fail.Keyring(), "linux").label == "unavailable"
    assert _classify(null.Keyring(), "linux").label == "none (stores nothing)"
    empty = type("Chain", (chainer.ChainerBackend,), {"backends": []})()
    assert _classify(empty, "linux").kind == "unusable"


def test_os_keychains_and_encrypted_files_are_secure() -> None:
    cases = {
        ("keyring.backends.macOS", "Keyring"): "macOS Keychain",
        ("keyring.backends.Windows", "WinVaultKeyring"): "Windows Credential Locker",
        ("keyring.backends.kwallet", "DBusKeyring"): "KWallet",
        ("keyring.backends.libsecret", "Keyring"): "Secret Service (libsecret)",
        ("keyrings.cryptfile.cryptfile", "CryptFileKeyring"): "encrypted file",
    }
    for (module, name), label in cases.items():
        security = _classify(_named(module, name), "linux")
        assert security.secure and security.label == label, (module, name)
        assert not security.needs_confirmation and security.advice == ""
    assert _classify(MemorySecretService(), "linux").label == "Secret Service"
    # keyrings.alt's EncryptedKeyring needs pycryptodome to be built: its class is enough
    encrypted = EncryptedKeyring.__new__(EncryptedKeyring)
    assert _classify(encrypted, "linux").secure


def test_a_chain_is_what_its_first_backend_is(tmp_path: Path) -> None:
    plain = PlaintextKeyring()
    plain.file_path = str(tmp_path / "k.cfg")
    secure_first = type("Chain", (chainer.ChainerBackend,),
                        {"backends": [MemorySecretService(), plain]})()
    plain_first = type("Chain", (chainer.ChainerBackend,),
                       {"backends": [plain, MemorySecretService()]})()
    assert _classify(secure_first, "linux").secure
    assert _classify(plain_first, "linux").needs_confirmation


def test_an_unknown_backend_is_trusted_as_configured() -> None:
    security = _classify(ThirdPartyKeyring(), "linux")
    assert security.kind == "unknown" and not security.needs_confirmation
    assert security.label == "ThirdPartyKeyring"


def test_advice_per_os() -> None:
    assert "macOS Keychain" in secure_backend_advice("darwin")
    assert "Windows Credential Locker" in secure_backend_advice("win32")
    linux = secure_backend_advice("linux")
    assert "sudo apt install gnome-keyring" in linux and "KWallet" in linux
    assert "PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring" in linux


def test_status_bar_words(plaintext, use_backend) -> None:
    assert keyring_status() == "plaintext file (not secure)"
    use_backend(MemorySecretService())
    assert keyring_status() == "Secret Service"
    use_backend(fail.Keyring())
    assert keyring_status() == "unavailable"


# ----------------------------------------------------------------------------- the refusal


def test_store_refuses_a_plaintext_backend_without_confirmation(plaintext) -> None:
    values = {"username": "trader", "password": PASSWORD, "totp_secret": TOTP}
    with pytest.raises(InsecureKeyring) as refused:
        store_credentials("tradingview", values)
    assert refused.value.exit_code == 2
    assert "password and TOTP secret" in str(refused.value)
    assert PASSWORD not in str(refused.value) and TOTP not in str(refused.value)
    for field in ("username", "password", "totp_secret"):
        assert get_secret("tradingview", field) is None  # nothing written, not even the name
    with pytest.raises(InsecureKeyring, match="API key"):
        store_credentials("llm", {"api_key": API_KEY})
    assert get_secret("llm", "api_key") is None
    # the username alone is no secret
    assert store_credentials("tradingview", {"username": "trader"}) == ["username"]
    # confirmed: stored
    assert store_credentials("tradingview", values, allow_plaintext=True) == \
        ["username", "password", "totp_secret"]
    assert get_secret("tradingview", "password") == PASSWORD
    assert store_credentials("llm", {"api_key": API_KEY}, allow_plaintext=True) == ["api_key"]
    assert get_secret("llm", "api_key") == API_KEY


def test_a_secure_backend_stores_without_confirmation(use_backend) -> None:
    backend = MemorySecretService()
    use_backend(backend)
    assert keyring_security().secure
    store_credentials("tradingview", {"username": "trader", "password": PASSWORD})
    assert backend.values[("tvdesk", "tradingview:password")] == PASSWORD


def test_a_backend_that_keeps_nothing_is_refused_even_when_confirmed(use_backend) -> None:
    use_backend(null.Keyring())
    with pytest.raises(KeyringUnavailable, match="no usable keyring backend"):
        check_storable("llm", ["api_key"], allow_plaintext=True, confirm_hint="")


def test_cli_set_refuses_before_asking_and_logs_no_secret(plaintext, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    stdin = io.StringIO(f"trader\n{PASSWORD}\n{TOTP}\n")
    with pytest.raises(InsecureKeyring) as refused:
        set_credentials("tradingview", stdin)
    assert f"run it again with {ALLOW_PLAINTEXT_FLAG}" in str(refused.value)
    assert stdin.tell() == 0  # refused before a value was read
    assert get_secret("tradingview", "password") is None
    message = set_credentials("tradingview", stdin, allow_plaintext=True)
    assert "an unencrypted file, as confirmed with --allow-plaintext-keyring" in message
    assert get_secret("tradingview", "password") == PASSWORD
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PASSWORD, TOTP):
        assert secret not in message and secret not in logged
