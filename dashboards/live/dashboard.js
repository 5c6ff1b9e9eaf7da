// The staff dashboard: sign in, pick a site, watch it live over /hubs/live.
// Plain browser JavaScript; signalR and uPlot are the globals of their vendor scripts.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat('en-GB');
  const shortDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
  const DAYS = 30;
  // Reconnect at once, then after 1, 2 and 5 seconds, then every 5 seconds, forever.
  const RETRY_DELAYS = [0, 1000, 2000, 5000];
  const retryDelay = (attempt) => (attempt < RETRY_DELAYS.length ? RETRY_DELAYS[attempt] : 5000);
  // After this many failed attempts in a row the state says "offline" rather than "reconnecting".
  const OFFLINE_AFTER = 4;

  const state = {
    me: null,
    sites: [],
    site: null,
    counts: null,
    pages: null,
    connection: null,
    subscription: 0,
    chart: null,
  };

  // ---- formatting -------------------------------------------------------------------------

  /** "2026-11-26" → "26/11/2026", straight from the string: no time zone can shift it. */
  function dayMonthYear(date) {
    const [y, m, d] = date.split('-');
    return `${d}/${m}/${y}`;
  }

  /** The date `days` before a YYYY-MM-DD date, as YYYY-MM-DD (calendar arithmetic at UTC). */
  function addDays(date, days) {
    const [y, m, d] = date.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
  }

  /** A YYYY-MM-DD date as uPlot's x value: seconds at its UTC midnight (the chart draws in UTC). */
  function utcSeconds(date) {
    const [y, m, d] = date.split('-').map(Number);
    return Date.UTC(y, m - 1, d) / 1000;
  }

  /** A hub error's own message: SignalR prefixes it with "An unexpected error … HubException: ". */
  function hubMessage(error) {
    const text = String((error && error.message) || error || '');
    const at = text.indexOf('HubException: ');
    return at >= 0 ? text.slice(at + 'HubException: '.length) : text;
  }

  // ---- screens ----------------------------------------------------------------------------

  function showError(message) {
    $('error').textContent = message;
    $('error').hidden = !message;
  }

  function showLogin(message) {
    stopConnection();
    state.me = null;
    state.counts = null;
    state.pages = null;
    $('session').hidden = true;
    $('view').hidden = true;
    showError('');
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('login-error').hidden = !message;
    $('login-name').focus();
    document.title = 'Analytics';
  }

  function setConnectionState(value) {
    document.body.dataset.connection = value;
    const element = $('connection-state');
    element.dataset.state = value;
    element.textContent = value;
  }

  async function boot() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('password-open').addEventListener('click', openPasswordDialog);
    $('password-cancel').addEventListener('click', () => $('password-dialog').close());
    $('password-form').addEventListener('submit', changePassword);
    $('site-picker').addEventListener('change', (e) => { location.hash = 'site=' + encodeURIComponent(e.target.value); });
    window.addEventListener('hashchange', () => {
      const site = siteFromHash();
      if (state.me && site && site !== state.site) selectSite(site);
    });
    window.addEventListener('online', () => { if (state.connection && state.connection.state === 'Disconnected') connectLoop(true); });

    const response = await fetch('/api/me', { cache: 'no-store' });
    if (response.ok) {
      await startSession(await response.json());
    } else {
      showLogin();
    }
  }

  async function login(event) {
    event.preventDefault();
    const button = $('login-submit');
    button.disabled = true;
    try {
      const response = await fetch('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: $('login-name').value, password: $('login-password').value }),
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        $('login-error').textContent = response.status === 401 ? 'The name or password is wrong.' : (problem.detail || `Sign-in failed (${response.status}).`);
        $('login-error').hidden = false;
        return;
      }
      $('login-password').value = '';
      await startSession(await response.json());
    } catch {
      $('login-error').textContent = 'The server cannot be reached; try again.';
      $('login-error').hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function logout() {
    stopConnection();
    await fetch('/api/logout', { method: 'POST' }).catch(() => {});
    // The next to sign in here starts at their own first site, not at the one left in the address.
    history.replaceState(null, '', location.pathname);
    showLogin();
  }

  function openPasswordDialog() {
    $('password-form').reset();
    $('password-error').hidden = true;
    $('notice').hidden = true;
    $('password-dialog').showModal();
  }

  async function changePassword(event) {
    event.preventDefault();
    const button = $('password-submit');
    button.disabled = true;
    try {
      const response = await fetch('/api/me/password', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ currentPassword: $('password-current').value, newPassword: $('password-new').value }),
      });
      if (response.status === 401) {
        $('password-dialog').close();
        showLogin('Your session has ended; sign in again.');
        return;
      }
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        $('password-error').textContent = problem.detail || `The password could not be changed (${response.status}).`;
        $('password-error').hidden = false;
        return;
      }
      $('password-dialog').close();
      $('notice').textContent = 'Your password is changed; your other sessions have ended.';
      $('notice').hidden = false;
    } catch {
      $('password-error').textContent = 'The server cannot be reached; try again.';
      $('password-error').hidden = false;
    } finally {
      $('password-form').reset();
      button.disabled = false;
    }
  }

  async function startSession(me) {
    state.me = me;
    $('login').hidden = true;
    $('session').hidden = false;
    $('user-name').textContent = `${me.name} (${me.role})`;

    const response = await fetch('/api/sites', { cache: 'no-store' });
    if (response.status === 401) return showLogin('Your session has ended; sign in again.');
    state.sites = response.ok ? await response.json() : [];

    const site = siteFromHash() || (state.sites[0] && state.sites[0].id);
    if (!site) {
      fillPicker(null);
      showError('You have no sites to watch yet.');
      setConnectionState('offline');
      return;
    }

    createConnection();
    state.site = site;
    fillPicker(site);
    clearView();
    if (siteFromHash() !== site) history.replaceState(null, '', '#site=' + encodeURIComponent(site));
    await connectLoop(false);
  }

  function siteFromHash() {
    const match = /^#(?:site=)?([^&]+)/.exec(location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function fillPicker(selected) {
    const picker = $('site-picker');
    picker.replaceChildren();
    const ids = state.sites.map((s) => s.id);
    if (selected && !ids.includes(selected)) ids.push(selected);
    for (const id of ids) {
      const option = new Option(id, id, false, id === selected);
      picker.add(option);
    }
    picker.disabled = ids.length === 0;
  }

  // ---- the live connection ----------------------------------------------------------------

  function createConnection() {
    stopConnection();
    const connection = new signalR.HubConnectionBuilder()
      .withUrl('/hubs/live')
      .withAutomaticReconnect({
        nextRetryDelayInMilliseconds: (context) => {
          if (context.previousRetryCount >= OFFLINE_AFTER && state.connection === connection) setConnectionState('offline');
          return retryDelay(context.previousRetryCount);
        },
      })
      .configureLogging(signalR.LogLevel.Warning)
      .build();

    connection.on('counts', (counts) => applyCounts(counts, false));
    connection.on('pages', (pages) => applyPages(pages));
    connection.onreconnecting(() => { if (state.connection === connection) setConnectionState('reconnecting'); });
    // A fresh snapshot replaces what is shown, so nothing pushed while away is missed.
    connection.onreconnected(() => { if (state.connection === connection) subscribe(); });
    // The server may close without allowing an automatic reconnect (e.g. when it shuts down):
    // keep trying on our own, forever.
    connection.onclose(() => { if (state.connection === connection) connectLoop(true); });
    state.connection = connection;
  }

  function stopConnection() {
    const connection = state.connection;
    state.connection = null;
    state.subscription++;
    if (connection) connection.stop().catch(() => {});
  }

  async function connectLoop(reconnecting) {
    const connection = state.connection;
    if (!connection || connection.looping) return;
    connection.looping = true;
    try {
      for (let attempt = 0; state.connection === connection; attempt++) {
        setConnectionState(attempt >= OFFLINE_AFTER || !navigator.onLine ? 'offline' : reconnecting ? 'reconnecting' : 'connecting');
        const delay = attempt === 0 ? 0 : retryDelay(attempt);
        if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
        if (state.connection !== connection) return;
        try {
          await connection.start();
          break;
        } catch {
          // The server is away: try again after the next delay.
        }
      }
    } finally {
      connection.looping = false;
    }
    if (state.connection === connection) await subscribe();
  }

  async function subscribe() {
    const connection = state.connection;
    const site = state.site;
    if (!connection || !site || connection.state !== 'Connected') return;
    const ticket = ++state.subscription;
    try {
      // The server closes a connection whose session has ended; the reconnect that follows would
      // still watch a public site, anonymously. Ask first, so an ended session shows the login.
      const me = await fetch('/api/me', { cache: 'no-store' }).catch(() => null);
      if (ticket !== state.subscription || state.connection !== connection) return;
      if (me && me.status === 401) return showLogin('Your session has ended; sign in again.');
      const counts = await connection.invoke('Subscribe', site);
      if (ticket !== state.subscription) return;
      showError('');
      setConnectionState('live');
      applyCounts(counts, true);
    } catch (error) {
      if (ticket !== state.subscription || state.connection !== connection) return;
      const message = hubMessage(error);
      if (message.startsWith('Unauthorized:')) return showLogin('Your session has ended; sign in again.');
      if (message.startsWith('Forbidden:') || message.startsWith('Not found:')) {
        setConnectionState('live');
        clearView();
        showError(message);
        return;
      }
      // Lost while subscribing: the reconnect subscribes again.
      if (connection.state !== 'Connected') return;
      // A passing server error: try again shortly.
      showError(`${message || 'The live connection failed.'} Retrying…`);
      setTimeout(() => { if (ticket === state.subscription && state.connection === connection) subscribe(); }, 5000);
    }
  }

  async function selectSite(site) {
    const previous = state.site;
    state.site = site;
    fillPicker(site);
    clearView();
    showError('');
    const connection = state.connection;
    if (connection && connection.state === 'Connected') {
      if (previous) await connection.invoke('Unsubscribe', previous).catch(() => {});
      await subscribe();
    }
  }

  // ---- rendering --------------------------------------------------------------------------

  function clearView() {
    state.counts = null;
    state.pages = null;
    $('view').hidden = true;
    for (const id of ['today-views', 'today-visitors', 'today-date', 'total', 'month-views', 'time-zone', 'days-strip']) $(id).textContent = '';
    for (const id of ['top-pages', 'top-referrers']) $(id).tBodies[0].replaceChildren();
    if (state.chart) state.chart.setData([[], [], []]);
  }

  function applyCounts(counts, snapshot) {
    if (!counts || counts.site !== state.site) return;
    // Counts only grow: a push older than what is shown is dropped (a snapshot is always the truth).
    if (!snapshot && state.counts && counts.today === state.counts.today && counts.total < state.counts.total) return;
    state.counts = counts;
    $('view').hidden = false;

    const days = counts.days || [];
    const today = days.find((d) => d.date === counts.today) || { date: counts.today, views: 0, visitors: 0 };
    $('today-views').textContent = number.format(today.views);
    $('today-visitors').textContent = number.format(today.visitors);
    $('today-date').textContent = dayMonthYear(counts.today);
    $('total').textContent = number.format(counts.total);
    $('month-views').textContent = number.format(days.reduce((sum, d) => sum + d.views, 0));
    $('time-zone').textContent = counts.timeZone;
    // "26/11/2026 (37) 25/11/2026 (35) …", each day kept on one line.
    $('days-strip').replaceChildren(...days.flatMap((d, i) => {
      const entry = document.createElement('span');
      entry.textContent = `${dayMonthYear(d.date)} (${number.format(d.views)})`;
      return i === 0 ? [entry] : [' ', entry];
    }));
    document.title = `${number.format(today.views)} today · ${counts.site} · Analytics`;

    const from = addDays(counts.today, -(DAYS - 1));
    for (const by of ['day', 'page', 'referrer']) {
      const link = $('export-' + by);
      link.href = `/api/sites/${encodeURIComponent(counts.site)}/reports/daily?from=${from}&to=${counts.today}&by=${by}&format=csv`;
      link.download = `${counts.site}-${by}-${from}-${counts.today}.csv`;
    }

    drawChart(days);
  }

  function applyPages(pages) {
    if (!pages || pages.site !== state.site) return;
    state.pages = pages;
    fillTop('top-pages', pages.pages.map((p) => [p.path, p.views]), 'No views yet today.');
    fillTop('top-referrers', pages.referrers.map((r) => [r.referrer, r.views]), 'No referrers yet today.');
  }

  function fillTop(id, rows, empty) {
    const body = $(id).tBodies[0];
    const max = Math.max(1, ...rows.map((r) => r[1]));
    body.replaceChildren(...(rows.length ? rows : [[empty, null]]).map(([name, views]) => {
      const tr = document.createElement('tr');
      const label = document.createElement('td');
      label.textContent = name;
      label.title = name;
      const count = document.createElement('td');
      count.className = 'n';
      if (views === null) {
        tr.className = 'empty';
      } else {
        count.textContent = number.format(views);
        tr.style.setProperty('--share', `${(100 * views) / max}%`);
      }
      tr.append(label, count);
      return tr;
    }));
  }

  function drawChart(days) {
    const ordered = [...days].reverse();
    const data = [
      ordered.map((d) => utcSeconds(d.date)),
      ordered.map((d) => d.views),
      ordered.map((d) => d.visitors),
    ];
    const element = $('chart');
    if (state.chart) {
      state.chart.setData(data);
      return;
    }
    if (typeof uPlot === 'undefined') return;
    const size = () => ({ width: Math.max(240, element.clientWidth), height: element.clientWidth < 600 ? 200 : 260 });
    const formatted = (u, v) => (v == null ? '–' : number.format(v));
    state.chart = new uPlot({
      ...size(),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, Math.ceil(max * 1.1))] } },
      axes: [
        { stroke: '#5b6473', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#eef0f3' }, space: 56, values: (u, splits) => splits.map((ts) => shortDate.format(new Date(ts * 1000))) },
        { stroke: '#5b6473', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#eef0f3' }, values: (u, values) => values.map((v) => number.format(v)) },
      ],
      series: [
        { label: 'Day', value: (u, ts) => (ts == null ? '–' : dayMonthYear(new Date(ts * 1000).toISOString().slice(0, 10))) },
        { label: 'Views', stroke: '#2563eb', width: 2, fill: 'rgba(37, 99, 235, 0.10)', points: { size: 5 }, value: formatted },
        { label: 'Visitors', stroke: '#16a34a', width: 2, points: { size: 5 }, value: formatted },
      ],
    }, data, element);
    new ResizeObserver(() => state.chart.setSize(size())).observe(element);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
