// The chart page of the fake TradingView: header, legend, Pine Editor (Monaco), Strategy
// report with its update lifecycle, settings dialog (virtual list), date range, export, pop-ups.
(function () {
  'use strict';
  const { el, postJSON, sleep } = window.fakeTV;
  let CFG = window.__FAKE_TV__ || {};
  const params = new URLSearchParams(window.location.search);
  const DEFAULT_SOURCE = '//@version=6\nindicator("My script")\nplot(close)';
  const ROW_HEIGHT = 40;

  const state = {
    symbol: params.get('symbol') || 'BINANCE:BTCUSDT',
    interval: params.get('interval') || '1D',
    legend: [],
    reportId: null,
    editorItemId: null,
    range: { from: null, to: null },
    result: null,
    error: null,
    pendingDeep: false,
    updateGen: 0,
    tab: 0,
    reportOpen: false,
    reportOpenedOnce: false,
    pineOpen: false,
    timezone: CFG.chart_timezone || 'Etc/UTC',
  };
  let nextId = 1;
  let editor = null;
  let monacoApi = null;
  let monacoLoading = null;

  const broken = (name) => (CFG.broken || []).includes(name);
  // The layout this page shows (/chart/<id>/). TradingView autosaves a layout on every
  // change; each change is reported as `layout-change:<id>:<what>`, so a test sees whose
  // layout a bot edited.
  const LAYOUT = window.location.pathname.split('/')[2] || '';
  const layoutChanged = (what) => report(`layout-change:${LAYOUT}:${what}`);
  const overlapRoot = () => document.getElementById('overlap-manager-root');

  async function refreshConfig() {
    try {
      const response = await fetch('/api/config', { cache: 'no-store', credentials: 'same-origin' });
      CFG = await response.json();
    } catch (err) {
      // keep the last known configuration
    }
  }

  // ------------------------------------------------------------------ header and chart

  function renderLayoutButton() {
    if (broken('layout_menu')) {
      document.getElementById('header-toolbar-layouts').replaceChildren();
      return;
    }
    const name = (CFG.layouts || {})[LAYOUT] || 'Unnamed';
    document.getElementById('header-toolbar-layouts').replaceChildren(el('button', {
      type: 'button', class: 'tb-button', 'data-name': 'save-load-menu',
      'aria-label': 'Manage layouts', text: name, onclick: (event) => openLayoutMenu(event.currentTarget),
    }));
  }

  function openLayoutMenu(anchor) {
    closeMenus();
    const menu = el('div', { role: 'menu', class: 'menu', 'data-name': 'layout-menu' },
      menuItem('Create new layout…', () => { closeMenus(); openCreateLayout(); }),
      ...Object.entries(CFG.layouts || {}).map(([id, name]) => menuItem(name, () => {
        closeMenus();
        window.location.href = `/chart/${id}/?symbol=${encodeURIComponent(state.symbol)}&interval=${encodeURIComponent(state.interval)}`;
      })));
    place(menu, anchor);
  }

  function openCreateLayout() {
    const input = el('input', { type: 'text', placeholder: 'Layout name', 'aria-label': 'Layout name', class: 'text-input' });
    const dialog = el('div', { 'data-name': 'create-layout-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Create new layout', class: 'dialog date-dialog' },
      el('div', { class: 'dialog-title', text: 'Create new layout' }),
      input,
      el('div', { class: 'dialog-footer' },
        el('button', { type: 'button', 'data-name': 'cancel-button', class: 'btn btn-secondary', text: 'Cancel', onclick: () => dialog.remove() }),
        el('button', {
          type: 'button', 'data-name': 'submit-button', class: 'btn btn-primary', text: 'Save',
          onclick: async () => {
            const name = input.value.trim();
            if (!name) return;
            const reply = await postJSON('/api/layouts', { name });
            if (reply && reply.id) {
              window.location.href = `/chart/${reply.id}/?symbol=${encodeURIComponent(state.symbol)}&interval=${encodeURIComponent(state.interval)}`;
            }
          },
        })));
    overlapRoot().append(dialog);
    input.focus();
  }

  function renderHeader() {
    renderLayoutButton();
    document.getElementById('header-toolbar-symbol-search').textContent = state.symbol;
    document.querySelector('.series-title').textContent =
      `${state.symbol.split(':').pop()} · ${state.interval} · ${state.symbol.split(':')[0]}`;
    const attrs = broken('interval_button')
      ? { type: 'button', class: 'tb-button interval-v2' }
      : { type: 'button', class: 'tb-button', 'aria-label': 'Change interval' };
    attrs.onclick = () => openIntervalDialog('');
    attrs.text = state.interval;
    document.getElementById('header-toolbar-intervals').replaceChildren(el('button', attrs));
  }

  function closeIntervalDialog() {
    const found = document.querySelector('[data-name="change-interval-dialog"]');
    if (found) found.remove();
  }

  function openIntervalDialog(initial) {
    closeIntervalDialog();
    const input = el('input', { type: 'text', class: 'interval-input', autocomplete: 'off' });
    input.value = initial;
    const dialog = el('div', { 'data-name': 'change-interval-dialog', role: 'dialog', class: 'interval-dialog' },
      el('div', { class: 'dialog-title', text: 'Change interval' }),
      input,
      el('div', { class: 'hint', text: 'Type an interval: 5, 60, 1h, 4h, 1D, 1W' }));
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        const value = input.value.trim();
        if (!value) return;
        closeIntervalDialog();
        changeInterval(value);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        closeIntervalDialog();
      }
    });
    input.addEventListener('blur', () => setTimeout(() => {
      if (document.activeElement !== input) closeIntervalDialog();
    }, 150));
    overlapRoot().append(dialog);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function changeInterval(value) {
    layoutChanged('interval');
    const changed = value !== state.interval;
    state.interval = value;
    const url = new URL(window.location.href);
    url.searchParams.set('interval', value);
    window.history.replaceState(null, '', url.toString());
    renderHeader();
    drawChart();
    if (changed && reportStrategy()) requestUpdate();
  }

  document.addEventListener('keydown', (event) => {
    const target = event.target;
    const typing = target && (target.closest('input, textarea, [contenteditable], .monaco-editor, [role="dialog"]'));
    if (!typing && /^[0-9]$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      openIntervalDialog(event.key);
    } else if (event.key === 'Escape') {
      closeMenus();
    }
  });

  let bars = null;

  async function loadBars() {
    try {
      bars = await (await fetch('/api/bars', { credentials: 'same-origin' })).json();
    } catch (err) {
      bars = null;
    }
    drawChart();
  }

  function drawChart() {
    const canvas = document.getElementById('chart-canvas');
    const area = document.getElementById('chart-area');
    const width = area.clientWidth;
    const height = area.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.floor(width * ratio));
    canvas.height = Math.max(1, Math.floor(height * ratio));
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = '#131722';
    ctx.fillRect(0, 0, width, height);
    ctx.strokeStyle = '#1e222d';
    ctx.lineWidth = 1;
    for (let x = 0; x < width; x += 80) { ctx.beginPath(); ctx.moveTo(x + 0.5, 0); ctx.lineTo(x + 0.5, height); ctx.stroke(); }
    for (let y = 0; y < height; y += 60) { ctx.beginPath(); ctx.moveTo(0, y + 0.5); ctx.lineTo(width, y + 0.5); ctx.stroke(); }
    ctx.fillStyle = 'rgba(120, 123, 134, 0.12)';
    ctx.font = 'bold 64px sans-serif';
    ctx.textAlign = 'center';
    ctx.fillText(`${state.symbol.split(':').pop()}, ${state.interval}`, width / 2, height / 2 + 20);
    if (!bars || !bars.close || !bars.close.length || height < 40) return;
    const n = bars.close.length;
    const plotW = width - 70;
    const top = 50;
    const bottom = height - 20;
    const lo = Math.min(...bars.low);
    const hi = Math.max(...bars.high);
    const y = (v) => bottom - (v - lo) / (hi - lo || 1) * (bottom - top);
    const step = plotW / n;
    for (let i = 0; i < n; i++) {
      const up = bars.close[i] >= bars.open[i];
      const color = up ? '#26a69a' : '#ef5350';
      const x = i * step + step / 2;
      ctx.strokeStyle = color;
      ctx.beginPath(); ctx.moveTo(x, y(bars.high[i])); ctx.lineTo(x, y(bars.low[i])); ctx.stroke();
      ctx.fillStyle = color;
      const yo = y(bars.open[i]);
      const yc = y(bars.close[i]);
      ctx.fillRect(x - Math.max(1, step * 0.35), Math.min(yo, yc), Math.max(2, step * 0.7), Math.max(1, Math.abs(yo - yc)));
    }
    ctx.fillStyle = '#787b86';
    ctx.font = '11px sans-serif';
    ctx.textAlign = 'left';
    for (let k = 0; k <= 4; k++) {
      const v = lo + (hi - lo) * k / 4;
      ctx.fillText(v.toFixed(5), plotW + 8, y(v) + 4);
    }
    const last = bars.close[n - 1];
    document.querySelector('.series-values').textContent =
      `O ${bars.open[n - 1]} H ${bars.high[n - 1]} L ${bars.low[n - 1]} C ${last}`;
  }

  window.addEventListener('resize', drawChart);

  // ------------------------------------------------------------------ legend

  function makeItem(kind, info, source, fromEditor) {
    const values = {};
    for (const spec of info.inputs || []) values[spec.title] = spec.default;
    return {
      id: nextId++, kind, title: info.title, source: source || null, fromEditor: !!fromEditor,
      inputs: info.inputs || [], values, props: {}, declared: info.settings || {},
    };
  }

  function legendArgs(item) {
    return Object.values(item.values).map((v) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v))).join(' ');
  }

  function renderLegend() {
    const box = document.getElementById('legend-sources');
    box.replaceChildren(...state.legend.map((item) => {
      const attrs = { class: 'legend-item', 'data-kind': item.kind };
      attrs[broken('legend_item') ? 'data-name' : 'data-qa-id'] = 'legend-source-item';
      return el('div', attrs,
        el('span', { 'data-name': 'legend-source-title', class: 'legend-title', text: item.title }),
        el('span', { class: 'legend-args', text: legendArgs(item) }),
        el('div', { class: 'legend-actions' },
          el('button', {
            type: 'button', 'data-qa-id': 'legend-settings-action', 'aria-label': 'Settings',
            class: 'legend-btn', text: '⚙', onclick: () => openSettings(item),
          }),
          el('button', {
            type: 'button', 'data-qa-id': 'legend-delete-action', 'aria-label': 'Remove',
            class: 'legend-btn', text: '✕', onclick: () => removeItem(item),
          })));
    }));
  }

  function removeItem(item) {
    layoutChanged('remove');
    state.legend = state.legend.filter((other) => other.id !== item.id);
    if (state.editorItemId === item.id) state.editorItemId = null;
    if (state.reportId === item.id) {
      state.reportId = null;
      state.result = null;
      state.error = null;
      state.pendingDeep = false;
      state.updateGen += 1;
      removeSnack('loading');
    }
    closeSettings();
    renderLegend();
    renderReport();
  }

  function reportStrategy() {
    return state.legend.find((item) => item.id === state.reportId && item.kind === 'strategy') || null;
  }

  // ------------------------------------------------------------------ bottom toolbar, panels

  function renderToolbar() {
    const reportAttrs = {
      type: 'button', 'data-name': 'backtesting', 'aria-label': 'Strategy report',
      class: 'bottom-tab', text: 'Strategy report', onclick: () => toggleReport(),
    };
    if (!broken('report_button')) reportAttrs['data-qa-id'] = 'backtesting';
    document.getElementById('bottom-toolbar').replaceChildren(
      el('button', {
        type: 'button', 'data-name': 'pine-dialog-button', 'aria-label': 'Pine Editor',
        class: 'bottom-tab', text: 'Pine', onclick: () => togglePine(),
      }),
      el('button', reportAttrs),
      el('div', { class: 'tb-spacer' }),
      el('button', {
        type: 'button', 'data-name': 'time-zone-menu', 'aria-label': 'Time zone',
        class: 'bottom-tab', text: zoneLabel(state.timezone, true),
        onclick: (event) => openZoneMenu(event.currentTarget),
      }));
    document.querySelector('[data-name="pine-dialog-button"]').classList.toggle('active', state.pineOpen);
    document.querySelector('[data-name="backtesting"]').classList.toggle('active', state.reportOpen);
  }

  // The chart's timezone: every time in an export is written in it. The button shows the
  // offset, the menu "UTC" or "(UTC-5) New York"; a change is reported as chart-timezone:<tz>.
  const ZONES = ['Etc/UTC', 'America/New_York', 'America/Chicago', 'Europe/London',
                 'Europe/Berlin', 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Sydney'];

  function zoneOffset(zone) {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'shortOffset' })
      .formatToParts(new Date());
    const name = (parts.find((p) => p.type === 'timeZoneName') || {}).value || 'GMT';
    return name.replace('GMT', 'UTC');
  }

  function zoneLabel(zone, short) {
    if (zone === 'Etc/UTC') return 'UTC';
    const offset = zoneOffset(zone);
    if (short) return `(${offset})`;
    return `(${offset}) ${zone.split('/').pop().replace(/_/g, ' ')}`;
  }

  function openZoneMenu(anchor) {
    closeMenus();
    const menu = el('div', { role: 'menu', class: 'menu', 'data-name': 'time-zone-list' },
      ...ZONES.map((zone) => {
        const item = menuItem(zoneLabel(zone, false), () => {
          closeMenus();
          if (zone === state.timezone) return;
          state.timezone = zone;
          report(`chart-timezone:${zone}`);
          renderToolbar();
          if (reportStrategy()) requestUpdate();
        });
        item.setAttribute('role', 'menuitemradio');
        item.setAttribute('aria-checked', String(zone === state.timezone));
        return item;
      }));
    place(menu, anchor);
    const box = menu.getBoundingClientRect();  // open upwards from the bottom toolbar
    if (box.bottom > window.innerHeight) menu.style.top = `${Math.max(0, anchor.getBoundingClientRect().top - box.height - 4)}px`;
  }

  function layoutBottom() {
    document.getElementById('pine-slot').hidden = !state.pineOpen;
    document.getElementById('report-slot').hidden = !state.reportOpen;
    document.getElementById('bottom-area').hidden = !(state.pineOpen || state.reportOpen);
    renderToolbar();
    drawChart();
  }

  // ------------------------------------------------------------------ Pine Editor

  function loadMonaco() {
    if (monacoLoading) return monacoLoading;
    monacoLoading = new Promise((resolve, reject) => {
      window.MonacoEnvironment = {
        getWorkerUrl: () => '/static/monaco/vs/base/worker/workerMain.js',
      };
      const script = document.createElement('script');
      script.src = '/static/monaco/vs/loader.js';
      script.onload = () => {
        window.require.config({ paths: { vs: '/static/monaco/vs' } });
        window.require(['vs/editor/editor.main'], () => resolve(window.monaco), reject);
      };
      script.onerror = () => reject(new Error('cannot load Monaco'));
      document.head.append(script);
    });
    return monacoLoading;
  }

  async function ensureEditor() {
    if (editor) return;
    const api = await loadMonaco();
    if (editor) return;
    await refreshConfig();
    monacoApi = api;
    editor = api.editor.create(document.getElementById('pine-monaco'), {
      value: DEFAULT_SOURCE,
      language: 'plaintext',
      theme: 'vs-dark',
      automaticLayout: true,
      minimap: { enabled: false },
      fontSize: 13,
      scrollBeyondLastLine: false,
    });
    if (!CFG.expose_monaco) {
      try { delete window.monaco; } catch (err) { window.monaco = undefined; }
    }
  }

  function buildPine() {
    const panel = el('div', { 'data-name': 'pine-editor', class: 'pine-editor' },
      el('div', { class: 'pine-toolbar', id: 'pine-toolbar' }),
      el('div', { class: 'pine-monaco', id: 'pine-monaco' }),
      el('div', { class: 'marker-widget', id: 'pine-markers' }),
      el('div', { 'data-name': 'pine-console', class: 'pine-console', id: 'pine-console' }));
    document.getElementById('pine-slot').replaceChildren(panel);
  }

  function renderPineToolbar() {
    const add = broken('add_to_chart')
      ? el('button', { type: 'button', class: 'apply-v2', text: 'Apply' })
      : el('button', { type: 'button', 'data-qa-id': 'add-script-to-chart', title: 'Add to chart', class: 'pine-btn primary', text: 'Add to chart' });
    add.addEventListener('click', addToChart);
    document.getElementById('pine-toolbar').replaceChildren(
      el('span', { class: 'pine-name', text: 'Untitled script' }),
      el('div', { class: 'tb-spacer' }),
      el('button', { type: 'button', class: 'pine-btn', text: 'Save' }),
      add,
      el('button', { type: 'button', 'aria-label': 'Close', class: 'pine-close', text: '✕', onclick: () => togglePine(false) }));
  }

  async function togglePine(open) {
    state.pineOpen = open === undefined ? !state.pineOpen : open;
    if (state.pineOpen) {
      await refreshConfig();
      renderPineToolbar();
    }
    layoutBottom();
    if (state.pineOpen) await ensureEditor();
  }

  function log(kind, text) {
    const consoleBox = document.getElementById('pine-console');
    const stamp = new Date().toTimeString().slice(0, 8);
    consoleBox.append(el('div', { class: `console-line console-${kind}`, text: `${stamp}  ${text}` }));
    consoleBox.scrollTop = consoleBox.scrollHeight;
  }

  function clearErrors() {
    document.getElementById('pine-markers').replaceChildren();
    if (monacoApi && editor) monacoApi.editor.setModelMarkers(editor.getModel(), 'pine', []);
  }

  function showErrors(errors) {
    clearErrors();
    const box = document.getElementById('pine-markers');
    for (const error of errors) {
      const where = `${error.line}:${error.column}`;
      box.append(el('div', { class: 'message', role: 'alert', 'aria-label': where, text: `${where}  ${error.message}` }));
      log('error', `Error at ${where} ${error.message}`);
    }
    if (monacoApi && editor) {
      const model = editor.getModel();
      monacoApi.editor.setModelMarkers(model, 'pine', errors.map((error) => {
        const line = Math.min(Math.max(1, error.line), model.getLineCount());
        return {
          startLineNumber: line, startColumn: error.column || 1,
          endLineNumber: line, endColumn: model.getLineMaxColumn(line),
          message: error.message, severity: monacoApi.MarkerSeverity.Error,
        };
      }));
    }
  }

  async function addToChart() {
    const source = editor ? editor.getValue() : DEFAULT_SOURCE;
    log('info', 'Compiling…');
    let reply;
    try {
      reply = await postJSON('/api/compile', { source });
    } catch (err) {
      reply = { ok: false, errors: [{ line: 1, column: 1, message: String(err) }] };
    }
    if (!reply.ok) {
      showErrors(reply.errors || [{ line: 1, column: 1, message: reply.error || 'Compilation failed' }]);
      return;
    }
    clearErrors();
    log('info', `Compiled "${reply.title}", added to the chart`);
    layoutChanged('add');
    const item = makeItem('strategy', reply, source, true);
    const index = state.legend.findIndex((other) => other.id === state.editorItemId);
    if (index >= 0) state.legend[index] = item;
    else state.legend.push(item);
    state.editorItemId = item.id;
    state.reportId = item.id;
    state.error = null;
    closeSettings();
    renderLegend();
    renderReport();
    requestUpdate();
  }

  // ------------------------------------------------------------------ report

  function dataRange() {
    return CFG.data_range || { from: '', to: '' };
  }

  function rangeText() {
    const data = dataRange();
    return `${state.range.from || data.from} — ${state.range.to || data.to}`;
  }

  function money(value) {
    if (value === null || value === undefined) return '—';
    const text = Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return (value < 0 ? '−' : value > 0 ? '+' : '') + text;
  }

  function amount(value) {
    if (value === null || value === undefined) return '—';
    return Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function percent(value) {
    if (value === null || value === undefined) return '—';
    return `${value.toFixed(2)}%`;
  }

  function fact(title, value, sub, cls) {
    return el('div', { class: 'fact' + (cls ? ' ' + cls : '') },
      el('div', { class: 'fact-title', text: title }),
      el('div', { class: 'fact-value', text: value }),
      el('div', { class: 'fact-sub', text: sub || '' }));
  }

  function renderReport() {
    const slot = document.getElementById('report-slot');
    const item = reportStrategy();
    const result = state.result;
    const range = rangeText();
    const rangeAttrs = broken('date_range_button')
      ? { type: 'button', 'data-qa-id': 'date-range-button', 'aria-label': 'Date range', class: 'report-range', text: 'Date range' }
      : { type: 'button', 'data-qa-id': 'date-range-button', 'aria-label': range, class: 'report-range', text: range };
    rangeAttrs.onclick = (event) => openRangeMenu(event.currentTarget);
    const menuAttrs = {
      type: 'button', 'aria-label': 'Open context menu', class: 'icon-btn', text: '⋯',
      onclick: (event) => openExportMenu(event.currentTarget),
    };
    if (!broken('export_menu_button')) menuAttrs.title = 'Open context menu';
    const header = el('div', { class: 'report-header' },
      el('span', { 'data-name': 'strategy-title', class: 'strategy-title', text: item ? item.title : '' }),
      el('button', rangeAttrs),
      el('div', { class: 'tb-spacer' }),
      el('button', {
        type: 'button', 'data-name': 'strategy-settings', 'aria-label': 'Settings', class: 'icon-btn', text: '⚙',
        onclick: () => { const target = reportStrategy(); if (target) openSettings(target); },
      }),
      el('button', menuAttrs));
    const tabs = el('div', { class: 'report-tabs', role: 'tablist' },
      ['Overview', 'List of trades'].map((name, index) => el('button', {
        type: 'button', 'data-name': `light-tab-${index}`, class: 'light-tab' + (state.tab === index ? ' selected' : ''),
        'aria-selected': state.tab === index ? 'true' : 'false', text: name,
        onclick: () => { state.tab = index; renderReport(); },
      })));
    const body = el('div', { class: 'report-body' });
    if (state.pendingDeep && item) {
      body.append(el('div', { class: 'deep-bar' },
        el('span', { text: 'Deep Backtesting: the report is out of date.' }),
        el('button', {
          type: 'button', 'data-qa-id': 'update-report-button', class: 'btn btn-primary', text: 'Update report',
          onclick: () => startUpdate(),
        })));
    }
    if (!item) {
      body.append(el('div', { class: 'report-empty', text: 'Add a strategy to the chart to see its report' }));
    } else if (state.error) {
      body.append(el('div', { class: 'report-error', 'data-name': 'report-error', text: state.error }));
    } else if (!result) {
      body.append(el('div', { class: 'report-empty', text: 'Calculating…' }));
    } else if (!result.total_trades && !(result.trades || []).length) {
      body.append(el('div', { class: 'report-empty', text: 'This report requires trade data' }));
    } else if (state.tab === 0) {
      const cur = result.currency || 'USD';
      body.append(el('div', { 'data-qa-id': 'strategy-key-facts', class: 'key-facts' },
        fact('Total PnL', `${money(result.net_profit)} ${cur}`, percent(result.net_profit_percent),
          result.net_profit >= 0 ? 'positive' : 'negative'),
        fact('Max drawdown', `${amount(result.max_drawdown)} ${cur}`, percent(result.max_drawdown_percent)),
        fact('Total trades', String(result.total_trades ?? '—')),
        fact('Profitable trades', percent(result.percent_profitable),
          `${result.winning_trades ?? '—'}/${result.total_trades ?? '—'}`),
        fact('Profit factor', result.profit_factor === null || result.profit_factor === undefined ? '—' : result.profit_factor.toFixed(3))));
    } else {
      const rows = (result.trades || []).slice().reverse().map((t) => el('tr', {},
        el('td', { text: String(t.number) }), el('td', { text: t.side }),
        el('td', { text: (t.entry_time || '').slice(0, 16).replace('T', ' ') }),
        el('td', { text: t.open ? 'Open' : (t.exit_time || '').slice(0, 16).replace('T', ' ') }),
        el('td', { text: money(t.profit) })));
      body.append(el('table', { class: 'trades-table', 'data-name': 'list-of-trades' },
        el('thead', {}, el('tr', {}, ['Trade #', 'Type', 'Entry', 'Exit', 'Net P&L'].map((h) => el('th', { text: h })))),
        el('tbody', {}, rows)));
    }
    slot.replaceChildren(el('div', { class: 'report-panel', 'data-name': 'backtesting-panel' }, header, tabs, body));
  }

  async function toggleReport() {
    state.reportOpen = !state.reportOpen;
    if (state.reportOpen) await refreshConfig();
    renderReport();
    layoutBottom();
    if (state.reportOpen && !state.reportOpenedOnce) {
      state.reportOpenedOnce = true;
      setTimeout(showGopro, (CFG.delays || {}).gopro_report_ms || 300);
      laterModal('A special offer for you', 'modal_report_ms');  // while the range is probed
    }
  }

  function removeSnack(kind) {
    document.querySelectorAll(`[data-qa-id="backtesting-${kind}-report-snackbar"]`).forEach((n) => n.remove());
  }

  function showSnack(kind, text, ttl) {
    removeSnack(kind);
    const snack = el('div', { 'data-qa-id': `backtesting-${kind}-report-snackbar`, class: `snackbar snackbar-${kind}`, role: 'status', text });
    document.getElementById('snackbar-container').append(snack);
    if (ttl) setTimeout(() => snack.remove(), ttl);
  }

  async function requestUpdate() {
    await refreshConfig();
    if (!reportStrategy()) return;
    if (CFG.deep_backtesting) {
      state.updateGen += 1;  // a calculation under way is out of date too
      removeSnack('loading');
      state.pendingDeep = true;
      renderReport();
      return;
    }
    startUpdate();
  }

  async function startUpdate() {
    const item = reportStrategy();
    if (!item) return;
    state.pendingDeep = false;
    renderReport();
    const gen = ++state.updateGen;
    const started = performance.now();
    let finished = false;
    removeSnack('success');
    setTimeout(() => {
      if (gen === state.updateGen && !finished) showSnack('loading', 'Updating report…');
    }, 150);
    const body = {
      source: item.source,
      symbol: state.symbol,
      interval: state.interval,
      inputs: { ...item.values },
      properties: { ...item.props },
      date_from: state.range.from,
      date_to: state.range.to,
      timezone: state.timezone,
    };
    let reply;
    try {
      reply = await postJSON('/api/backtest', body);
    } catch (err) {
      reply = { error: String(err) };
    }
    const wait = (CFG.report_delay || 0) * 1000 - (performance.now() - started);
    if (wait > 0) await sleep(wait);
    if (gen !== state.updateGen) return;
    finished = true;
    removeSnack('loading');
    if (reply.error) {
      state.error = reply.error;
      state.result = null;
    } else {
      state.error = null;
      state.result = reply;
      showSnack('success', 'Report updated', 2500);
    }
    renderReport();
  }

  // ------------------------------------------------------------------ menus

  function closeMenus() {
    document.querySelectorAll('.menu').forEach((menu) => menu.remove());
  }

  function place(node, anchor, side) {
    const box = anchor.getBoundingClientRect();
    node.style.position = 'fixed';
    if (side === 'right') {
      node.style.left = `${Math.round(box.right + 2)}px`;
      node.style.top = `${Math.round(box.top)}px`;
    } else {
      node.style.left = `${Math.round(Math.min(box.left, window.innerWidth - 240))}px`;
      node.style.top = `${Math.round(box.bottom + 4)}px`;
    }
    overlapRoot().append(node);
    const own = node.getBoundingClientRect();
    if (own.bottom > window.innerHeight) {
      node.style.top = `${Math.max(0, Math.round(window.innerHeight - own.height - 4))}px`;
    }
  }

  function menuItem(text, action) {
    return el('div', {
      role: 'menuitem', tabindex: '-1', class: 'menu-item', text,
      onclick: (event) => { event.stopPropagation(); action(event); },
    });
  }

  function openRangeMenu(anchor) {
    closeMenus();
    const menu = el('div', { role: 'menu', class: 'menu', 'data-name': 'date-range-menu' },
      menuItem('Testing period', (event) => openPeriodMenu(event.currentTarget)));
    place(menu, anchor);
  }

  function openPeriodMenu(anchor) {
    document.querySelectorAll('[data-name="testing-period-menu"]').forEach((n) => n.remove());
    const data = dataRange();
    const menu = el('div', { role: 'menu', class: 'menu submenu', 'data-name': 'testing-period-menu' },
      menuItem('Entire history', () => { closeMenus(); setRange(null, null); }),
      menuItem('Last 365 days', () => {
        closeMenus();
        const end = new Date(data.to + 'T00:00:00Z');
        end.setUTCDate(end.getUTCDate() - 365);
        setRange(end.toISOString().slice(0, 10), data.to);
      }),
      menuItem('Custom date range', () => { closeMenus(); openCustomRange(); }));
    place(menu, anchor, 'right');
  }

  function setRange(from, to) {
    if (from === state.range.from && to === state.range.to) return;
    state.range = { from, to };
    renderReport();
    requestUpdate();
  }

  function validDate(text) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
    const parsed = new Date(text + 'T00:00:00Z');
    return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === text;
  }

  function openCustomRange() {
    document.querySelectorAll('[data-name="custom-date-range-dialog"]').forEach((n) => n.remove());
    const data = dataRange();
    const start = el('input', { type: 'text', placeholder: 'YYYY-MM-DD', class: 'date-input' });
    const end = el('input', { type: 'text', placeholder: 'YYYY-MM-DD', class: 'date-input' });
    start.value = state.range.from || data.from;
    end.value = state.range.to || data.to;
    const error = el('div', { class: 'field-error', 'data-name': 'date-range-error' });
    const dialog = el('div', {
      'data-name': 'custom-date-range-dialog', role: 'dialog', 'aria-label': 'Custom date range',
      class: 'dialog date-dialog',
    },
    el('div', { class: 'dialog-title', text: 'Custom date range' }),
    el('div', { class: 'date-row' }, el('span', { text: 'Start' }), start, el('span', { text: 'End' }), end),
    error,
    el('div', { class: 'dialog-footer' },
      el('button', { type: 'button', 'data-name': 'cancel-button', class: 'btn btn-secondary', text: 'Cancel', onclick: () => dialog.remove() }),
      el('button', {
        type: 'button', 'data-name': 'submit-button', class: 'btn btn-primary', text: 'Select',
        onclick: () => {
          const from = start.value.trim();
          const to = end.value.trim();
          if (!validDate(from) || !validDate(to)) {
            error.textContent = 'Enter dates as YYYY-MM-DD';
            return;
          }
          if (from > to) {
            error.textContent = 'The start date must not be after the end date';
            return;
          }
          dialog.remove();
          setRange(from, to);
        },
      })));
    overlapRoot().append(dialog);
    start.focus();
  }

  function openExportMenu(anchor) {
    closeMenus();
    const menu = el('div', { role: 'menu', class: 'menu', 'data-name': 'backtesting-context-menu-items' },
      menuItem('Download data as XLSX', () => { closeMenus(); download('xlsx'); }),
      menuItem('Download data as CSV', () => { closeMenus(); download('csv'); }));
    place(menu, anchor);
  }

  function download(kind) {
    if (!state.result || !state.result.result_id) return;
    const link = el('a', { href: `/api/export.${kind}?result=${encodeURIComponent(state.result.result_id)}`, download: '' });
    link.style.display = 'none';
    document.body.append(link);
    link.click();
    link.remove();
  }

  document.addEventListener('mousedown', (event) => {
    if (!event.target.closest('.menu')) closeMenus();
    if (!event.target.closest('[role="listbox"], [role="combobox"]')) closeListbox();
  }, true);

  // ------------------------------------------------------------------ settings dialog

  let settings = null;  // {item, draft, tab, dialog, scroll, spacer, rows: Map(index -> node)}

  function closeSettings() {
    if (settings) settings.dialog.remove();
    settings = null;
  }

  function closeListbox() {
    document.querySelectorAll('[data-name="settings-listbox"]').forEach((n) => n.remove());
    document.querySelectorAll('[role="combobox"][aria-expanded="true"]').forEach((n) => n.setAttribute('aria-expanded', 'false'));
  }

  function declaredProps(item) {
    const d = item.declared || {};
    const pick = (key, fallback) => (typeof d[key] === 'number' ? d[key] : fallback);
    return {
      initial_capital: pick('initial_capital', 1000000),
      order_size: pick('default_qty_value', 1),
      order_size_type: QTY_TYPES[String(d.default_qty_type || 'strategy.fixed').replace('strategy.', '')] || 'Contracts',
      commission: pick('commission_value', 0),
      slippage: pick('slippage', 0),
      pyramiding: pick('pyramiding', 1),
      margin_long: pick('margin_long', 100),
      margin_short: pick('margin_short', 100),
    };
  }

  function propertyRows(item) {
    if (item.kind !== 'strategy') {
      return [{ key: 'precision', label: 'Precision', control: 'combo', options: ['Default', '0', '1', '2'] }];
    }
    return [
      { key: 'initial_capital', label: 'Initial capital', control: 'number', qa: 'initial-capital-input' },
      { key: 'base_currency', label: 'Base currency', control: 'combo', options: ['Default', 'USD', 'EUR', 'GBP'] },
      { key: 'order_size', label: 'Order size', control: 'number', qa: 'order-size-input' },
      { key: 'order_size_type', label: 'Order size unit', control: 'combo', options: ['Contracts', 'USD', '% of equity'], qa: 'order-size-type' },
      { key: 'pyramiding', label: 'Pyramiding', control: 'number', qa: 'pyramiding-input' },
      { key: 'commission', label: 'Commission', control: 'number', qa: 'commission-input' },
      { key: 'verify_price', label: 'Verify price for limit orders', control: 'number' },
      { key: 'slippage', label: 'Slippage', control: 'number', qa: 'slippage-input' },
      { key: 'margin_long', label: 'Margin for long positions', control: 'number' },
      { key: 'margin_short', label: 'Margin for short positions', control: 'number' },
      { key: 'recalc_filled', label: 'Recalculate after order is filled', control: 'bool' },
      { key: 'recalc_tick', label: 'Recalculate on every tick', control: 'bool' },
      { key: 'fill_on_close', label: 'Fill orders on bar close', control: 'bool' },
      { key: 'magnifier', label: 'Using bar magnifier', control: 'bool' },
    ];
  }

  function inputRows(item) {
    const sources = ['open', 'high', 'low', 'close', 'hl2', 'hlc3', 'ohlc4', 'hlcc4'];
    return item.inputs.map((spec) => {
      let control = 'text';
      let options = (spec.options || []).map(String);
      if (spec.kind === 'int' || spec.kind === 'float' || spec.kind === 'price') control = 'number';
      else if (spec.kind === 'bool') control = 'bool';
      else if (options.length) control = 'combo';
      else if (spec.kind === 'source') { control = 'combo'; options = sources; }
      return { key: spec.title, label: spec.title, control, options, spec };
    });
  }

  const PROPERTY_KEYS = ['initial_capital', 'order_size', 'commission', 'slippage', 'pyramiding'];
  const QTY_TYPES = { fixed: 'Contracts', cash: 'USD', percent_of_equity: '% of equity' };

  function openSettings(item) {
    closeSettings();
    closeMenus();
    const props = { ...declaredProps(item), ...item.props, base_currency: 'Default', verify_price: 0, precision: 'Default',
      recalc_filled: false, recalc_tick: false, fill_on_close: false, magnifier: false };
    const draft = { inputs: {}, props: {} };
    for (const [key, value] of Object.entries(item.values)) draft.inputs[key] = typeof value === 'boolean' ? value : String(value ?? '');
    for (const [key, value] of Object.entries(props)) draft.props[key] = typeof value === 'boolean' ? value : String(value);
    const scroll = el('div', { 'data-name': 'dialog-scroll', class: 'dialog-scroll' });
    const spacer = el('div', { class: 'dialog-spacer' });
    scroll.append(spacer);
    const error = el('div', { class: 'dialog-error', 'data-name': 'dialog-error' });
    const tabs = el('div', { class: 'dialog-tabs', role: 'tablist' },
      el('button', { type: 'button', role: 'tab', 'data-value': 'inputs', class: 'dialog-tab', text: 'Inputs', onclick: () => selectTab('inputs') }),
      el('button', { type: 'button', role: 'tab', 'data-value': 'properties', class: 'dialog-tab', text: 'Properties', onclick: () => selectTab('properties') }));
    const dialog = el('div', {
      'data-name': 'indicator-properties-dialog', role: 'dialog', 'aria-label': `${item.title} settings`,
      class: 'dialog settings-dialog',
    },
    el('div', { class: 'dialog-header' },
      el('div', { class: 'dialog-title', text: item.title }),
      el('button', { type: 'button', 'data-name': 'dialog-close', 'aria-label': 'Close', class: 'icon-btn', text: '✕', onclick: () => closeSettings() })),
    tabs, scroll, error,
    el('div', { class: 'dialog-footer' },
      el('button', { type: 'button', 'data-name': 'cancel-button', class: 'btn btn-secondary', text: 'Cancel', onclick: () => closeSettings() }),
      el('button', { type: 'button', 'data-name': 'submit-button', class: 'btn btn-primary', text: 'Ok', onclick: () => submitSettings() })));
    settings = { item, draft, tab: 'inputs', dialog, scroll, spacer, error, rows: new Map() };
    scroll.addEventListener('scroll', () => { closeListbox(); renderRows(); });
    overlapRoot().append(dialog);
    selectTab('inputs');
  }

  function currentRows() {
    return settings.tab === 'inputs' ? inputRows(settings.item) : propertyRows(settings.item);
  }

  function selectTab(tab) {
    if (!settings) return;
    settings.tab = tab;
    settings.dialog.querySelectorAll('[role="tab"]').forEach((node) => {
      const on = node.getAttribute('data-value') === tab;
      node.setAttribute('aria-selected', on ? 'true' : 'false');
      node.classList.toggle('selected', on);
    });
    settings.rows.forEach((node) => node.remove());
    settings.rows.clear();
    settings.scroll.scrollTop = 0;
    closeListbox();
    renderRows();
  }

  function draftBucket(row) {
    return settings.tab === 'inputs' ? settings.draft.inputs : settings.draft.props;
  }

  // Only the rows that intersect the visible part (plus one) exist; rows that stay visible
  // keep their nodes, as a keyed framework would.
  function renderRows() {
    if (!settings) return;
    const rows = currentRows();
    const { scroll, spacer } = settings;
    spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    if (!rows.length) {
      spacer.replaceChildren(el('div', { class: 'row-empty', text: 'Nothing to set' }));
      return;
    }
    spacer.querySelectorAll('.row-empty').forEach((n) => n.remove());
    const top = scroll.scrollTop;
    const height = scroll.clientHeight || 5 * ROW_HEIGHT;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT));
    const last = Math.min(rows.length - 1, Math.floor((top + height - 1) / ROW_HEIGHT) + 1);
    for (const [index, node] of settings.rows) {
      if (index < first || index > last) {
        node.remove();
        settings.rows.delete(index);
      }
    }
    for (let index = first; index <= last; index++) {
      if (settings.rows.has(index)) continue;
      const node = rowNode(rows[index]);
      node.style.top = `${index * ROW_HEIGHT}px`;
      settings.rows.set(index, node);
      spacer.append(node);
    }
  }

  function rowNode(row) {
    const bucket = draftBucket(row);
    let control;
    if (row.control === 'bool') {
      const box = el('input', { type: 'checkbox' });
      box.checked = !!bucket[row.key];
      box.addEventListener('change', () => { bucket[row.key] = box.checked; });
      control = box;
    } else if (row.control === 'combo') {
      const combo = el('span', { role: 'combobox', tabindex: '0', 'aria-expanded': 'false', class: 'combo', text: String(bucket[row.key] ?? '') });
      const open = () => openListbox(combo, row, bucket);
      combo.addEventListener('click', open);
      combo.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); open(); }
      });
      control = combo;
    } else {
      const field = el('input', { type: 'text', class: 'text-input' });
      if (row.control === 'number') field.setAttribute('inputmode', 'decimal');
      field.value = String(bucket[row.key] ?? '');
      field.addEventListener('input', () => { bucket[row.key] = field.value; });
      control = field;
    }
    const cell = row.qa ? el('div', { 'data-qa-id': row.qa, class: 'qa-wrap' }, control) : control;
    return el('div', { class: 'row' },
      el('div', { class: 'cell-first' }, el('span', { text: row.label })),
      el('div', { class: 'cell-last' }, cell));
  }

  function openListbox(combo, row, bucket) {
    closeListbox();
    combo.setAttribute('aria-expanded', 'true');
    const list = el('div', { role: 'listbox', class: 'listbox', 'data-name': 'settings-listbox' },
      row.options.map((option) => el('div', {
        role: 'option', class: 'option', 'aria-selected': String(bucket[row.key]) === option ? 'true' : 'false',
        text: option,
        onclick: () => {
          bucket[row.key] = option;
          combo.textContent = option;
          closeListbox();
        },
      })));
    const box = combo.getBoundingClientRect();
    list.style.position = 'fixed';
    list.style.left = `${Math.round(box.left)}px`;
    list.style.top = `${Math.round(box.bottom + 2)}px`;
    list.style.minWidth = `${Math.round(box.width)}px`;
    overlapRoot().append(list);
  }

  function parseNumber(text) {
    const trimmed = String(text).trim().replace(',', '.');
    if (!trimmed) return null;
    const value = Number(trimmed);
    return Number.isFinite(value) ? value : null;
  }

  function submitSettings() {
    if (!settings) return;
    const { item, draft, error } = settings;
    const values = {};
    for (const spec of item.inputs) {
      const raw = draft.inputs[spec.title];
      if (spec.kind === 'int' || spec.kind === 'float' || spec.kind === 'price') {
        const number = parseNumber(raw);
        if (number === null) {
          error.textContent = `${spec.title}: enter a number`;
          return;
        }
        values[spec.title] = number;
      } else if (spec.kind === 'bool') {
        values[spec.title] = !!raw;
      } else {
        values[spec.title] = String(raw ?? '');
      }
    }
    const props = {};
    if (item.kind === 'strategy') {
      const labels = { initial_capital: 'Initial capital', order_size: 'Order size', commission: 'Commission', slippage: 'Slippage', pyramiding: 'Pyramiding' };
      for (const key of PROPERTY_KEYS) {
        const number = parseNumber(draft.props[key]);
        if (number === null || number < 0) {
          error.textContent = `${labels[key]}: enter a number`;
          return;
        }
        props[key] = number;
      }
      props.order_size_type = String(draft.props.order_size_type || 'Contracts');
    }
    let changed = false;
    for (const [key, value] of Object.entries(values)) {
      if (item.values[key] !== value) changed = true;
    }
    item.values = values;
    const effective = { ...declaredProps(item), ...item.props };
    for (const [key, value] of Object.entries(props)) {
      if (effective[key] !== value) {
        item.props[key] = value;
        changed = true;
      }
    }
    closeSettings();
    renderLegend();
    if (!state.settingsModalShown) {  // once a page: while the fresh report is awaited
      state.settingsModalShown = true;
      laterModal('Your trial ends soon', 'modal_settings_ms');
    }
    if (changed && item.kind === 'strategy') {
      state.reportId = item.id;
      state.error = null;
      renderReport();
      requestUpdate();
    }
  }

  // ------------------------------------------------------------------ pop-ups

  function showGopro() {
    if (!CFG.popups || document.querySelector('[data-dialog-name="gopro"]')) return;
    const overlay = el('div', {
      'data-dialog-name': 'gopro', class: 'gopro',
      style: 'position:fixed;inset:0;z-index:1000;background:rgba(0,0,0,.4)',
    },
    el('div', { class: 'gopro-card', role: 'dialog', 'aria-label': 'Upgrade your plan' },
      el('button', { type: 'button', 'data-name': 'popup-close', 'aria-label': 'Close', class: 'gopro-close', text: '×', onclick: () => overlay.remove() }),
      el('h2', { text: 'Unlock more with Premium' }),
      el('p', { text: 'Deep Backtesting, more indicators per chart, second-based intervals and more. 30 days free.' }),
      el('button', { type: 'button', class: 'btn btn-primary', text: 'Explore plans' })));
    document.body.append(overlay);
    focusGopro();
  }

  // Offers as the real site shows them since 2026: aria-modal (role queries then see nothing
  // else), the focus moves into them, and they open at random moments. Keys that reach one
  // are reported as `modal-keys`: what a careless bot types into the upgrade offer.
  function report(name) {
    fetch('/api/event', { method: 'POST', credentials: 'same-origin', body: JSON.stringify({ name }) })
      .catch(() => {});
  }

  function showFocusModal(label) {
    if (!CFG.focus_modals || document.querySelector('[data-fake-modal]')) return;
    const close = (how) => { overlay.remove(); report(`modal-closed:${label}:${how}`); };
    const primary = el('button', { type: 'button', class: 'btn btn-primary', text: 'Start free trial',
      onclick: () => report(`modal-accepted:${label}`) });
    const overlay = el('div', { 'data-fake-modal': label, style: 'position:fixed;inset:0;z-index:1100;background:rgba(0,0,0,.4)' },
      el('div', { class: 'gopro-card', role: 'dialog', 'aria-modal': 'true', 'aria-label': label, tabindex: '-1' },
        el('h2', { text: label }),
        el('p', { text: 'Get more indicators per chart and Deep Backtesting. 30 days free.' }),
        primary,
        el('button', { type: 'button', class: 'btn', text: 'Maybe later', onclick: () => close('later') })));
    overlay.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') close('escape');
      else if (event.key !== 'Tab' && event.key !== 'Shift') report(`modal-keys:${label}`);
    });
    document.body.append(overlay);
    primary.focus();
    report(`modal-shown:${label}`);
  }

  function focusGopro() {
    const card = document.querySelector('[data-dialog-name="gopro"] [role="dialog"]');
    if (!CFG.focus_modals || !card) return;
    card.setAttribute('aria-modal', 'true');
    const explore = card.querySelector('.btn-primary');
    if (explore) explore.focus();
    card.addEventListener('keydown', (event) => {
      if (event.key !== 'Tab' && event.key !== 'Escape') report('modal-keys:gopro');
    });
  }

  const laterModal = (label, key) => setTimeout(() => showFocusModal(label), (CFG.delays || {})[key] || 300);

  // ------------------------------------------------------------------ start

  async function loadInitialReport() {
    try {
      const response = await fetch('/api/initial-report', { credentials: 'same-origin' });
      const info = await response.json();
      if (info.error) return;
      const old = state.legend.find((item) => item.title === 'Old Strategy' && !item.source);
      if (old) {
        old.source = info.source;
        old.inputs = info.inputs;
        old.declared = info.settings || {};
        old.values = {};
        for (const spec of info.inputs) old.values[spec.title] = spec.default;
        if (state.reportId === old.id && state.updateGen === 0) {
          if (info.report.error) state.error = info.report.error;
          else state.result = info.report;
        }
        renderLegend();
        renderReport();
      }
    } catch (err) {
      // the layout keeps the strategy without its report
    }
  }

  function start() {
    state.legend.push(makeItem('study', { title: 'Volume', inputs: [{ title: 'MA Length', kind: 'int', default: 20 }] }));
    const old = makeItem('strategy', { title: 'Old Strategy', inputs: [] });
    state.legend.push(old);
    state.reportId = old.id;
    renderHeader();
    renderLegend();
    buildPine();
    renderReport();
    layoutBottom();
    loadBars();
    loadInitialReport();
    loadMonaco().catch(() => {});
    if (CFG.popups) setTimeout(showGopro, (CFG.delays || {}).gopro_ms || 1000);
    laterModal('Unlock more with Premium', 'modal_chart_ms');
  }

  start();
})();
