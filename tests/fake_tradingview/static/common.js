// Shared by every page of the fake TradingView: DOM helpers, JSON posts, the cookie banner.
(function () {
  'use strict';

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'style') node.style.cssText = value;
      else if (key.startsWith('on') && typeof value === 'function') {
        node.addEventListener(key.slice(2), value);
      } else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    return response.json();
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function config() {
    return window.__FAKE_TV__ || { popups: false, delays: {} };
  }

  const COOKIE = 'cookiePrivacyPreferenceBannerProduction';

  function cookiesAccepted() {
    return document.cookie.split(';').some((c) => c.trim().startsWith(COOKIE + '='));
  }

  // The banner covers the whole page (a transparent layer over everything, the card at the
  // bottom): nothing can be clicked until it is accepted. Remembered with a cookie.
  function showCookieBanner() {
    if (!config().popups || cookiesAccepted() || document.querySelector('[data-name="cookie-banner"]')) {
      return;
    }
    const banner = el('div', { 'data-name': 'cookie-banner', role: 'dialog', 'aria-label': 'Cookies', class: 'cookie-banner' },
      el('div', { class: 'cookie-card' },
        el('p', { text: 'We use cookies to make the site work, to remember your settings and to ' +
                        'measure how the site is used. You can change your choice at any time.' }),
        el('div', { class: 'cookie-buttons' },
          el('button', { type: 'button', class: 'btn btn-secondary', text: 'Manage preferences' }),
          el('button', {
            type: 'button', class: 'btn btn-primary', text: 'Accept all',
            onclick: () => {
              document.cookie = COOKIE + '=accepted; path=/; max-age=31536000; SameSite=Lax';
              banner.remove();
            },
          }))));
    document.body.append(banner);
  }

  window.fakeTV = { el, postJSON, sleep, config, showCookieBanner };
  window.addEventListener('DOMContentLoaded', () => {
    setTimeout(showCookieBanner, (config().delays || {}).cookie_banner_ms || 0);
  });
})();
