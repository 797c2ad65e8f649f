"""Shared by the optimiser's LLM tests: the fake endpoint's key in a real keyring file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from tvdesk.secrets import set_secret


@pytest.fixture
def llm_key(tmp_path: Path, fake_llm) -> Iterator[str]:
    """The fake endpoint's API key, stored in a plaintext keyring in tmp_path for the test."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    set_secret("llm", "api_key", fake_llm.api_key)
    yield fake_llm.api_key
    keyring.set_keyring(previous)
