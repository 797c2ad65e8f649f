"""`tvdesk credentials set|check|delete tradingview|llm`.

On a terminal the values are asked for without echo; otherwise they are read as lines from
standard input (TradingView: username, password, TOTP secret — an empty third line means no
2FA; LLM: the API key), so scripts and the GUI can feed them. Values go to the OS keyring and
are never printed, logged or written anywhere else. A keyring backend that writes a plaintext
file (keyrings.alt's PlaintextKeyring) gets no secret unless the user confirms it: the flag
`--allow-plaintext-keyring` here, a checkbox in the GUI (`allow_plaintext` below); otherwise
InsecureKeyring (exit 2) says why and how to get a secure backend.

The GUI's Credentials dialog uses the Qt-free helpers here too: `store_credentials` (Save), and
from `tvdesk.secrets` `validate_totp_secret` (the base32 check) and `totp_code` (the preview).
"""

from __future__ import annotations

import getpass
from typing import TextIO

from tvdesk.errors import InputError
from tvdesk.secrets import (
    FIELDS,
    Account,
    KeyringSecurity,
    backend_name,
    check_storable,
    delete_secret,
    delete_secrets,
    get_secret,
    set_secret,
    validate_totp_secret,
)

_PROMPTS = {
    "username": "TradingView username or email: ",
    "password": "TradingView password: ",
    "totp_secret": "TOTP secret (base32; empty if the account has no 2FA): ",
    "api_key": "LLM API key: ",
}


def _read_values(account: Account, stdin: TextIO) -> dict[str, str]:
    values: dict[str, str] = {}
    interactive = stdin.isatty()
    for field in FIELDS[account]:
        if interactive:
            ask = input if field == "username" else getpass.getpass
            value = ask(_PROMPTS[field])
        else:
            line = stdin.readline()
            value = line.rstrip("\r\n")
        values[field] = value.strip()
    required = [f for f in FIELDS[account] if f != "totp_secret"]
    missing = [f for f in required if not values[f]]
    if missing:
        raise InputError(f"expected a value for {', '.join(missing)} (one per line on standard "
                         "input when it is not a terminal)", source=f"credentials {account}")
    totp = values.get("totp_secret")
    if totp:
        values["totp_secret"] = validate_totp_secret(totp)
    return values


ALLOW_PLAINTEXT_FLAG = "--allow-plaintext-keyring"
GUI_CONFIRM_HINT = "To store them there anyway, confirm it in the Credentials dialog."


def store_credentials(account: Account, values: dict[str, str], *,
                      allow_plaintext: bool = False) -> list[str]:
    """Write the non-empty fields of `values` to the keyring (the GUI's Save).

    Empty fields keep what is stored. The TOTP secret is checked (InputError) before anything
    is written, so a bad secret leaves the keyring as it was; so is the backend: a secret for
    a plaintext backend without `allow_plaintext` raises InsecureKeyring and nothing is
    written. Returns the fields written.
    """
    cleaned: dict[str, str] = {}
    for field in FIELDS[account]:
        value = (values.get(field) or "").strip()
        if not value:
            continue
        cleaned[field] = validate_totp_secret(value) if field == "totp_secret" else value
    unknown = set(values) - set(FIELDS[account])
    if unknown:
        raise ValueError(f"unknown credential fields for {account}: {sorted(unknown)}")
    if cleaned:
        check_storable(account, cleaned, allow_plaintext=allow_plaintext,
                       confirm_hint=GUI_CONFIRM_HINT)
    for field, value in cleaned.items():
        set_secret(account, field, value)
    return list(cleaned)


def set_credentials(account: Account, stdin: TextIO, *, allow_plaintext: bool = False) -> str:
    """`tvdesk credentials set`: the backend is checked before any value is asked for."""
    security = check_storable(
        account, FIELDS[account], allow_plaintext=allow_plaintext,
        confirm_hint=f"To store them there anyway, run it again with {ALLOW_PLAINTEXT_FLAG}.")
    values = _read_values(account, stdin)
    for field, value in values.items():
        if value:
            set_secret(account, field, value)
        elif field == "totp_secret":
            delete_secret(account, field)  # an empty third line: the account has no 2FA
    return f"{account} credentials stored in the keyring ({backend_name()}){_plain(security)}"


def _plain(security: KeyringSecurity) -> str:
    if not security.needs_confirmation:
        return ""
    return f": an unencrypted file, as confirmed with {ALLOW_PLAINTEXT_FLAG}"


def delete_credentials(account: Account) -> str:
    removed = delete_secrets(account)
    return (f"{account} credentials deleted from the keyring" if removed
            else f"no {account} credentials were stored")


async def check_credentials(account: Account, config_path: str | None, *,
                            show_browser: bool | None = None) -> tuple[bool, str]:
    """Does the stored credential work? (TradingView: log in once, or find the session kept
    in the browser profile; LLM: list the endpoint's models with it.)"""
    if account == "tradingview":
        return await check_tradingview(config_path, show_browser=show_browser)
    from tvdesk.config import load_settings
    from tvdesk.optimize.settings import LLMSettings

    settings = load_settings(config_path)
    base_url = settings.llm_base_url or LLMSettings().base_url
    key = get_secret("llm", "api_key")
    if not key:
        return False, "no LLM API key stored: run `tvdesk credentials set llm`"
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=key, timeout=20, max_retries=0)
    try:
        models = await client.models.list()
        names = [m.id for m in models.data][:10]
    except openai.AuthenticationError:
        return False, f"the endpoint {base_url} refused the stored API key"
    except openai.OpenAIError as exc:
        return False, f"could not reach {base_url}: {type(exc).__name__}"
    finally:
        await client.close()
    return True, f"the API key works with {base_url} (models: {', '.join(names) or 'none'})"


async def check_tradingview(config_path: str | None, *,
                            show_browser: bool | None = None) -> tuple[bool, str]:
    from tvdesk.app.engines import make_engine
    from tvdesk.config import load_settings
    from tvdesk.engines.tradingview.errors import LoginFailed

    if not get_secret("tradingview", "username"):
        return False, "no TradingView credentials stored: run `tvdesk credentials set " \
            "tradingview`"
    engine = make_engine("tradingview", load_settings(config_path), workers=1,
                         show_browser=show_browser)
    try:
        outcome = await engine.start()
    except LoginFailed as exc:
        return False, str(exc)
    finally:
        await engine.close()
    return True, f"TradingView login works ({outcome}; the session is kept in the browser " \
        "profile)"
