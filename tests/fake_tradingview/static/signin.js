// The sign-in page: Email button -> username/password form -> (2FA code | captcha) -> "/".
(function () {
  'use strict';
  const { el, postJSON } = window.fakeTV;
  const form = document.getElementById('signin-form');
  const twoFactor = document.getElementById('two-factor-form');
  const captchaSlot = document.getElementById('captcha-slot');
  let pendingToken = null;
  let captchaTimer = null;

  function done() {
    window.location.assign('/');
  }

  function showError(container, message) {
    const slot = container.querySelector('.form-error-slot');
    slot.replaceChildren();
    if (message) {
      slot.append(el('div', { role: 'alert', 'data-name': 'form-error', class: 'form-error', text: message }));
    }
  }

  document.querySelector('button[name="Email"]').addEventListener('click', () => {
    document.getElementById('signin-providers').hidden = true;
    form.hidden = false;
    document.getElementById('id_username').focus();
  });
  document.querySelector('button[name="Google"]').addEventListener('click', () => {
    showError(form, null);
  });

  function showCaptcha() {
    if (captchaSlot.querySelector('.captcha-container')) return;
    captchaSlot.append(el('div', { class: 'captcha-container' },
      el('iframe', { title: 'reCAPTCHA captcha', src: '/accounts/captcha-frame', width: 304, height: 120 })));
    captchaTimer = setInterval(async () => {
      try {
        const reply = await (await fetch('/accounts/captcha-status', { credentials: 'same-origin' })).json();
        if (reply.ok) {
          clearInterval(captchaTimer);
          done();
        }
      } catch (err) {
        // the server went away; keep polling
      }
    }, 500);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const reply = await postJSON('/accounts/signin/', {
        username: document.getElementById('id_username').value,
        password: document.getElementById('id_password').value,
      });
      showError(form, reply.error || null);
      if (reply.captcha) showCaptcha();
      if (reply.ok) done();
      else if (reply.two_factor) {
        pendingToken = reply.token;
        form.hidden = true;
        twoFactor.hidden = false;
        twoFactor.querySelector('input[name="code"]').focus();
      }
    } finally {
      submit.disabled = false;
    }
  });

  twoFactor.addEventListener('submit', async (event) => {
    event.preventDefault();
    const field = twoFactor.querySelector('input[name="code"]');
    const reply = await postJSON('/accounts/two-factor/', { code: field.value, token: pendingToken });
    if (reply.ok) {
      done();
      return;
    }
    showError(twoFactor, reply.error || 'Invalid code');
    if (reply.restart) {
      twoFactor.hidden = true;
      form.hidden = false;
    }
  });
})();
