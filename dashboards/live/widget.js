/*
 * Analytics live counter. Embed where the line should appear:
 *   <script src="https://ANALYTICS/widget.js" data-site="demo" data-days="5" data-culture="en-GB"
 *           [data-calendar="hijri"] [data-refresh="30"]></script>
 * Renders "19/11/2018 (37) 18/11/2018 (35) …   Total: 144,720" after the tag (data-days: 1–30),
 * kept live over the SignalR JSON protocol on a plain WebSocket, else refreshed every
 * data-refresh seconds (30).
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || !script.src) return;
  var RS = '\x1e';
  var data = script.dataset;
  var site = data.site || '';
  var origin = new URL(script.src).origin;
  // The hub pushes 30 days: more could not stay live.
  // Not a number: 5; anything else is held to 1–30.
  var asked = parseInt(data.days, 10);
  var days = isNaN(asked) ? 5 : Math.min(Math.max(asked, 1), 30);
  var refresh = (parseFloat(data.refresh) > 0 ? parseFloat(data.refresh) : 30) * 1000;
  var culture = data.culture || undefined;
  try { new Intl.DateTimeFormat(culture); } catch (e) { culture = undefined; }
  var dateFormat = new Intl.DateTimeFormat(culture, { calendar: 'gregory', day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' });
  var numberFormat = new Intl.NumberFormat(culture);
  var hijriFormat = /^hijri$/i.test(data.calendar || '')
    && new Intl.DateTimeFormat(culture, { calendar: 'islamic-umalqura', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

  var span = null, shown = null, dead = false;
  var socket = null, pingTimer = 0, pollTimer = 0, retryTimer = 0, retryDelay = 1000;

  // A YYYY-MM-DD string is a calendar day: format it at UTC midnight so no time zone shifts it.
  function day(text) {
    var p = String(text).split('-');
    return new Date(Date.UTC(+p[0], +p[1] - 1, +p[2]));
  }

  function render(counts) {
    if (dead || !counts || !counts.days) return;
    // Counts only grow: an answer older than what is shown (a slow poll) is dropped.
    if (shown && counts.total < shown.total) return;
    shown = counts;
    // The line's parts, each set apart for the bidirectional algorithm (<bdi>), so a right-to-left
    // culture's dates neither swap places nor pull "Total:" and its number apart on any page.
    var parts = counts.days.slice(0, days).map(function (d) {
      return [' ', dateFormat.format(day(d.date)) + ' (' + numberFormat.format(d.views) + ')'];
    });
    parts.push(['   ', 'Total: ' + numberFormat.format(counts.total)]);
    if (hijriFormat && counts.today) {
      parts.push(['   ', dateFormat.format(day(counts.today)) + ' \u00b7 ' + hijriFormat.format(day(counts.today))]);
    }
    parts[0][0] = '';
    var line = parts.map(function (p) { return p[0] + p[1]; }).join('');

    if (!span) {
      span = document.createElement('span');
      span.className = 'analytics-counter';
      span.style.whiteSpace = 'pre-wrap';
      var parent = script.parentNode;
      if (!parent || parent === document.head) document.body.appendChild(span);
      else parent.insertBefore(span, script.nextSibling);
    }
    if (span.textContent === line) return;
    span.textContent = '';
    parts.forEach(function (p) {
      if (p[0]) span.appendChild(document.createTextNode(p[0]));
      var part = document.createElement('bdi');
      part.textContent = p[1];
      span.appendChild(part);
    });
  }

  // Unknown or private site: show nothing, say why once, stop.
  function fail(reason) {
    if (dead) return;
    dead = true;
    console.warn('Analytics counter for site "' + site + '" is off: ' + reason);
    if (span) span.remove();
    span = null;
    clearInterval(pollTimer);
    clearTimeout(retryTimer);
    if (socket) socket.close();
  }

  function poll() {
    fetch(origin + '/api/sites/' + encodeURIComponent(site) + '/counts?days=' + days, { credentials: 'omit', cache: 'no-store' })
      .then(function (response) {
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          return response.json().catch(function () { return {}; }).then(function (problem) {
            var detail = problem.detail || problem.title;
            fail('HTTP ' + response.status + (detail ? ': ' + detail : ''));
          });
        }
        if (response.ok) return response.json().then(render);
      })
      .catch(function () { /* offline or server down: the next poll tries again */ });
  }

  function startPolling() {
    if (pollTimer || dead) return;
    poll();
    pollTimer = setInterval(poll, refresh);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = 0;
  }

  function retry() {
    if (retryTimer || dead) return;
    retryTimer = setTimeout(function () { retryTimer = 0; connect(); }, retryDelay * (0.8 + Math.random() * 0.4));
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  function connect() {
    if (dead) return;
    var ws, buffer = '', handshaken = false, heard = Date.now();
    try {
      ws = new WebSocket(origin.replace(/^http/, 'ws') + '/hubs/live');
    } catch (e) {
      startPolling();
      return retry();
    }
    socket = ws;

    function send(message) {
      if (ws.readyState === 1) ws.send(JSON.stringify(message) + RS);
    }

    ws.onopen = function () { send({ protocol: 'json', version: 1 }); };

    ws.onmessage = function (event) {
      heard = Date.now();
      if (typeof event.data !== 'string') return;
      var parts = (buffer + event.data).split(RS);
      buffer = parts.pop();
      parts.forEach(function (text) {
        var m;
        try { m = JSON.parse(text); } catch (e) { return; }
        if (!handshaken) {
          handshaken = true;
          if (m.error) return ws.close();
          send({ type: 1, invocationId: '1', target: 'Subscribe', arguments: [site] });
          // Ping every 15 s; the server pings as often, so 40 s of silence means the link is gone.
          pingTimer = setInterval(function () {
            if (Date.now() - heard > 40000) ws.close();
            else send({ type: 6 });
          }, 15000);
          return;
        }
        if (m.type === 1 && /^counts$/i.test(m.target) && m.arguments) {
          render(m.arguments[0]);
        } else if (m.type === 3 && m.invocationId === '1') {
          if (m.error) {
            // "… HubException: Forbidden: …": the site is not ours to show. Anything else is transient.
            var refused = /(?:^|HubException: )((?:Unauthorized|Forbidden|Not found):.*)/.exec(m.error);
            return refused ? fail(refused[1]) : ws.close();
          }
          retryDelay = 1000;
          stopPolling();
          render(m.result);
        } else if (m.type === 7) {
          ws.close();
        }
      });
    };

    ws.onclose = function () {
      clearInterval(pingTimer);
      if (socket === ws) socket = null;
      if (dead) return;
      startPolling();
      retry();
    };
  }

  if (!site) return console.warn('Analytics counter: the script tag has no data-site.');
  connect();
})();
