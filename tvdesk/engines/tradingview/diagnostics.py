"""Save what the page looked like when a step failed: a screenshot and the HTML, secrets masked.

Before the screenshot, every password field and every field whose value is a stored secret is
blanked in the page, so neither the picture nor the HTML can carry one; the HTML is masked
again as text. Only the page is touched, never the account.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tvdesk.fileio import write_bytes_atomically, write_text_atomically
from tvdesk.secrets import mask

log = logging.getLogger(__name__)

_BLANK_FIELDS = """(secrets) => {
  for (const el of document.querySelectorAll('input, textarea')) {
    const value = el.value || '';
    if (el.type === 'password' || secrets.some(s => s && value.includes(s))) {
      el.value = '';
      el.setAttribute('value', '');
    }
  }
}"""


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "step"


async def save_diagnostics(page: Any, step: str, folder: Path,
                           secrets: Iterable[str | None]) -> Path | None:
    """Write `<time>_<step>.png` and `.html` under `folder`; returns the folder's entry stem.

    Never raises: a page that is gone cannot be photographed, and the caller's error matters
    more than the diagnostics.
    """
    secret_list = [s for s in secrets if s and len(s) >= 4]
    stem = folder / f"{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}_{_slug(step)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        await page.evaluate(_BLANK_FIELDS, secret_list)
        png = await page.screenshot(full_page=False, timeout=10_000)
        html = await page.content()
    except Exception as exc:  # best effort; report why in the log only
        log.warning("could not save diagnostics for step %s: %s", step, exc)
        return None
    write_bytes_atomically(stem.with_suffix(".png"), png)
    header = f"<!-- tvdesk diagnostics: step {step}, page {mask(page.url, secret_list)} -->\n"
    # Inline scripts can carry the signed-in user's data (tokens): the DOM is what matters.
    html = _SCRIPT.sub("<script><!-- removed by tvdesk --></script>", html)
    write_text_atomically(stem.with_suffix(".html"), header + mask(html, secret_list))
    return stem
