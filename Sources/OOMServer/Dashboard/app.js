// oomwatch dashboard: plain JavaScript, no framework, no build step, no network access
// beyond the collector's own API. Every value that came from the fleet (host names,
// process names, cgroup paths, raw kernel reports) is inserted with textContent or
// setAttribute, never as markup: process names are chosen by whoever runs the process.
'use strict';

// systemd-oomd kills a cgroup and names no process: its victim has no pid.
const pidText = (v) => (v.pid === undefined || v.pid === null ? 'unknown' : v.pid);

(() => {
  const TOKEN_KEY = 'oomwatch.token';
  const REFRESH_MS = 15000;
  const MAX_EVENTS = 5000; // upper bound on kills fetched for the timeline and table
  const KILL_ROWS = 200; // rows rendered in the recent kills table
  const PAGE_KB = 4; // the kernel's task table counts pages; 4 KiB on every common arch
  const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948',
    '#b07aa1', '#ff9da7', '#9c755f'];
  const OTHER_COLOR = '#8c8c8c';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // The API lives next to the dashboard's own directory: `<root>/dashboard/app.js` →
  // `<root>/api/v1/…`. Deriving it from the script URL keeps working behind a proxy
  // that mounts the collector under a path prefix.
  const ROOT = (() => {
    try {
      if (document.currentScript && document.currentScript.src) {
        return new URL('..', document.currentScript.src);
      }
    } catch (_) { /* fall through */ }
    return new URL('/', location.href);
  })();

  const state = {
    token: null,
    hosts: [],
    // Expected hosts (the collector's expected_hosts_file) that never reported.
    missing: [],
    events: [],
    eventsTruncated: false,
    summary24: null,
    summary7: null,
    loadedAt: null,
    sort: { key: 'state', dir: -1 },
    selectedHost: null,
    hostDetail: null,
    loading: false,
    timer: null,
    openKillID: null,
    openKillHost: null,
    killRows: KILL_ROWS,
    eventsRange: null,
    fullEventsAt: 0,
    pending: false,
    advice: [],
    adviceByEvent: new Map(), // event id -> findings it feeds
    adviceEvent: null, // the kill the advice panel is narrowed to
    adviceTotal: 0, // findings in all (the answer lists the first 1000)
  };

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  // Fleet text may hold control characters or Unicode bidi overrides: a process named
  // `java\u202Egnp.exe` would read as "javaexe.png" and turn the sentence around it
  // backwards. Every string put on the page (text, titles, the document title) goes
  // through safeText, which shows them escaped as \u{202E}; newlines and tabs stay.
  const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;
  function safeText(v) {
    return String(v).replace(UNSAFE, (c) => '\\u{' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0') + '}');
  }

  /** Creates an element; `props.text` becomes textContent, `props.class` the class list. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    applyProps(node, props);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : safeText(c));
    }
    return node;
  }

  function svg(tag, props, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    applyProps(node, props);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : safeText(c));
    }
    return node;
  }

  function applyProps(node, props) {
    if (!props) return;
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') node.textContent = safeText(v);
      else if (k === 'class') node.setAttribute('class', v);
      else if (k === 'style') setStyle(node, v);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node.setAttribute(k, v === true ? '' : safeText(v));
    }
  }

  // The collector's Content-Security-Policy forbids style attributes; CSSOM writes are allowed.
  function setStyle(node, text) {
    for (const decl of String(text).split(';')) {
      const i = decl.indexOf(':');
      if (i > 0) node.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
    }
  }

  function fmtKB(kb) {
    if (kb === null || kb === undefined || !isFinite(kb)) return '–';
    const abs = Math.abs(kb);
    if (abs >= 1024 * 1024) return (kb / 1024 / 1024).toFixed(abs >= 100 * 1024 * 1024 ? 0 : 1) + ' GiB';
    if (abs >= 1024) return (kb / 1024).toFixed(abs >= 100 * 1024 ? 0 : 1) + ' MiB';
    return Math.round(kb) + ' kB';
  }

  function fmtNum(n, digits) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    return Number(n).toFixed(digits === undefined ? 0 : digits);
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  /** Local time as `YYYY-MM-DD HH:MM:SS`: unambiguous and sortable, unlike locale formats. */
  function fmtTime(ts) {
    const d = ts instanceof Date ? ts : new Date(ts);
    if (isNaN(d)) return '–';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtAgo(ts) {
    if (!ts) return '–';
    const t = new Date(ts).getTime();
    if (isNaN(t)) return '–';
    const s = Math.round((Date.now() - t) / 1000);
    if (s < 0) return 'just now';
    if (s < 90) return s + ' s ago';
    if (s < 90 * 60) return Math.round(s / 60) + ' min ago';
    if (s < 36 * 3600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  function timeCell(ts) {
    if (!ts) return el('td', { class: 'when', text: '–' });
    return el('td', { class: 'when' },
      el('time', { datetime: ts, title: fmtTime(ts) + ' (' + ts + ')', text: fmtAgo(ts) }),
      el('span', { class: 'sub hide-sm', text: fmtTime(ts) }));
  }

  const DURATIONS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  function rangeSeconds(r) {
    const m = /^(\d+)([smhdw])$/.exec(r);
    return m ? Number(m[1]) * DURATIONS[m[2]] : 86400;
  }

  function victimRSS(ev) {
    const v = ev.victim || {};
    const parts = [v.anon_rss_kb, v.file_rss_kb, v.shmem_rss_kb].filter((x) => typeof x === 'number');
    if (parts.length) return parts.reduce((a, b) => a + b, 0);
    return typeof v.last_rss_kb === 'number' ? v.last_rss_kb : null;
  }

  function hostRisk(h) {
    if (typeof h.at_risk === 'boolean') return h.at_risk;
    const full = h.pressure && h.pressure.full_avg60;
    return (typeof h.available_pct === 'number' && h.available_pct < 10) || (typeof full === 'number' && full > 10);
  }

  /** Badge class of each state word. */
  const STATE_BADGE = { 'at risk': 'bad', stale: 'muted', killing: 'warn', ok: 'ok' };

  /**
   * The host's state words in the hosts table's order; `oomwatch hosts` says the same
   * words (its `state`), which CLITests checks by running this function.
   */
  function hostStateWords(r) {
    const words = [];
    if (r.risk) words.push('at risk');
    if (r.h.stale) words.push('stale');
    if (r.kills > 0) words.push('killing');
    return words.length ? words : ['ok'];
  }

  function hostRow(h) {
    const m = h.memory || {};
    const total = m.total_kb;
    const avail = m.available_kb;
    const used = typeof total === 'number' && typeof avail === 'number' ? total - avail : null;
    const availPct = typeof h.available_pct === 'number' ? h.available_pct
      : (used !== null && total > 0 ? (avail / total) * 100 : null);
    const swapUsed = typeof m.swap_total_kb === 'number' && typeof m.swap_free_kb === 'number'
      ? m.swap_total_kb - m.swap_free_kb : null;
    const p = h.pressure || {};
    const risk = hostRisk(h);
    const kills = h.kills_24h || 0;
    const rank = (risk ? 4 : 0) + (kills > 0 ? 2 : 0) + (h.stale ? 1 : 0);
    return { h, total, avail, used, availPct, swapUsed, some10: p.some_avg10, full60: p.full_avg60, risk, kills, rank };
  }

  // ---------------------------------------------------------------- token

  /** Moves `#token=…` from the address bar into sessionStorage; the fragment never reaches the server. */
  function takeTokenFromFragment() {
    const frag = location.hash.replace(/^#/, '');
    if (!frag) return;
    const params = new URLSearchParams(frag);
    if (!params.has('token')) return;
    const t = params.get('token');
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }

  function showPrompt(message) {
    stopTimer();
    $('main').hidden = true;
    $('session-controls').hidden = true;
    $('token-prompt').hidden = false;
    const err = $('token-error');
    err.hidden = !message;
    err.textContent = safeText(message || '');
    setStatus('no token');
    $('token-input').focus();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    showPrompt('');
  }

  // ---------------------------------------------------------------- API

  class AuthError extends Error {}

  async function api(path, params) {
    const url = new URL('api/v1/' + path, ROOT);
    if (params) {
      for (const [k, v] of Object.entries(params)) {
        if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, v);
      }
    }
    const res = await fetch(url, {
      headers: { Authorization: 'Bearer ' + state.token, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(res.status === 401
        ? 'The collector did not accept this token.'
        : 'This token may not query the API (it needs the read or admin role).');
    }
    if (!res.ok) {
      let msg = res.statusText;
      try { msg = (await res.json()).error.message || msg; } catch (_) { /* not JSON */ }
      throw new Error(`${res.status} ${msg} (${url.pathname})`);
    }
    return res.json();
  }

  async function fetchEvents(params, cap) {
    let out = [];
    let cursor = null;
    for (;;) {
      const page = await api('events', Object.assign({}, params, { limit: 1000, cursor }));
      out = out.concat(page.events || []);
      cursor = page.next_cursor;
      if (!cursor) return { events: out, truncated: false };
      if (out.length >= cap) return { events: out, truncated: true };
    }
  }

  /**
   * The kills of the chosen range. A full fetch every two minutes (and when the range
   * changes); in between only the newest quarter hour, merged by id, so a 15 s refresh
   * does not pull every raw report again. The full fetch picks up kills an agent
   * delivered late from its spool.
   */
  async function loadEvents(range) {
    const full = state.eventsRange !== range || Date.now() - state.fullEventsAt > 120000;
    if (full) {
      const r = await fetchEvents({ since: range }, MAX_EVENTS);
      return Object.assign(r, { full: true, range });
    }
    const newest = Math.max(0, ...state.events.map((ev) => new Date(ev.time).getTime()).filter((t) => !isNaN(t)));
    const from = Math.max(Date.now() - rangeSeconds(range) * 1000, Math.min(Date.now(), newest || Date.now()) - 15 * 60000);
    const r = await fetchEvents({ since: new Date(from).toISOString().replace(/\.\d{3}Z$/, 'Z') }, MAX_EVENTS);
    const byID = new Map(state.events.map((ev) => [ev.id, ev]));
    for (const ev of r.events) byID.set(ev.id, ev);
    const cutoff = Date.now() - rangeSeconds(range) * 1000;
    const t = (ev) => { const x = new Date(ev.time).getTime(); return isNaN(x) ? 0 : x; };
    const events = [...byID.values()].filter((ev) => !ev.time || t(ev) >= cutoff)
      .sort((a, b) => t(b) - t(a) || (a.id < b.id ? -1 : 1));
    return { events, truncated: state.eventsTruncated || r.truncated, full: false, range };
  }

  // ---------------------------------------------------------------- refresh

  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = safeText(text);
    s.classList.toggle('err', !!isError);
  }

  function showError(message) {
    const b = $('error');
    b.hidden = !message;
    b.textContent = safeText(message || '');
  }

  async function refresh() {
    if (!state.token) return;
    // A refresh asked for while one runs (a range change, say) runs right after it.
    if (state.loading) { state.pending = true; return; }
    state.loading = true;
    state.pending = false;
    setStatus('refreshing…');
    try {
      const range = $('tl-range').value;
      const [hosts, s24, s7, evs, advice] = await Promise.all([
        api('hosts'),
        api('reports/summary', { since: '24h' }),
        api('reports/summary', { since: '7d' }),
        loadEvents(range),
        api('reports/advice', { since: '30d' }),
      ]);
      setAdvice(advice.findings || [], advice.total);
      state.hosts = hosts.hosts || [];
      state.missing = Array.isArray(hosts.missing) ? hosts.missing : [];
      state.summary24 = s24;
      state.summary7 = s7;
      state.events = evs.events;
      state.eventsTruncated = evs.truncated;
      if (evs.full) {
        state.eventsRange = evs.range;
        state.fullEventsAt = Date.now();
      }
      state.loadedAt = new Date();
      $('token-prompt').hidden = true;
      $('main').hidden = false;
      $('session-controls').hidden = false;
      renderAll();
      loadAlerts();
      if (state.selectedHost) await loadHostDetail(state.selectedHost, true);
      showError('');
      setStatus('updated ' + fmtTime(state.loadedAt).slice(11) + (autoRefreshOn() ? '' : ' · paused'));
      document.body.dataset.loaded = 'true';
    } catch (e) {
      if (e instanceof AuthError) {
        sessionStorage.removeItem(TOKEN_KEY);
        state.token = null;
        showPrompt(e.message);
      } else {
        const when = state.loadedAt ? ' Showing data from ' + fmtTime(state.loadedAt) + '.' : '';
        // fetch() rejects with a TypeError when nothing answered at all.
        const why = e instanceof TypeError ? 'the collector did not answer' : (e && e.message ? e.message : String(e));
        showError('Could not refresh: ' + why + '.' + when);
        setStatus('refresh failed', true);
      }
    } finally {
      state.loading = false;
      if (state.pending && state.token) setTimeout(refresh, 0);
    }
  }

  function autoRefreshOn() { return $('auto-refresh').checked; }

  function startTimer() {
    stopTimer();
    state.timer = setInterval(() => {
      if (autoRefreshOn() && !document.hidden) refresh();
    }, REFRESH_MS);
  }

  function stopTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  function renderAll() {
    renderOverview();
    renderTimeline();
    renderHosts();
    renderAdvice();
    renderKills();
  }

  // ---------------------------------------------------------------- advice

  // The collector answers the first 1000 findings (most severe, then most recent);
  // `total` says how many there are in all.
  function setAdvice(findings, total) {
    state.advice = findings;
    state.adviceTotal = typeof total === 'number' ? total : findings.length;
    state.adviceByEvent = new Map();
    for (const f of findings) {
      for (const id of (f.evidence && f.evidence.event_ids) || []) {
        if (!state.adviceByEvent.has(id)) state.adviceByEvent.set(id, []);
        state.adviceByEvent.get(id).push(f);
      }
    }
  }

  const SEVERITY_CLASS = { critical: 'bad', warning: 'warn', info: 'muted' };

  /** Findings per host (hosts with the most severe findings first), or those one kill feeds. */
  function renderAdvice() {
    const all = state.advice;
    const shown = state.adviceEvent ? (state.adviceByEvent.get(state.adviceEvent) || []) : all;
    const rank = { critical: 2, warning: 1, info: 0 };
    const perHost = new Map();
    for (const f of shown) perHost.set(f.host, (perHost.get(f.host) || []).concat([f]));
    const hosts = [...perHost.keys()].sort((a, b) => {
      const worst = (h) => Math.max(...perHost.get(h).map((f) => rank[f.severity] || 0));
      return worst(b) - worst(a) || a.localeCompare(b);
    });
    const rows = [];
    for (const host of hosts) {
      const list = perHost.get(host);
      list.forEach((f, i) => {
        const tr = el('tr', { 'data-testid': 'advice-row', 'data-kind': f.kind, 'data-host': f.host });
        if (i === 0) {
          const hb = el('button', { type: 'button', class: 'linklike', text: host });
          hb.addEventListener('click', () => openHost(host));
          tr.append(el('th', { scope: 'row', rowspan: String(list.length), class: 'advice-host' }, hb,
            el('div', { class: 'sub', text: `${list.length} finding${list.length === 1 ? '' : 's'}` })));
        }
        tr.append(el('td', null, el('span', { class: 'badge ' + (SEVERITY_CLASS[f.severity] || 'muted'), text: f.severity })));
        tr.append(el('td', null, el('strong', { text: f.kind }), el('span', { class: 'sub', text: f.subject })));
        const ev = f.evidence || {};
        const ids = el('span', { class: 'sub mono' });
        for (const id of ev.event_ids || []) {
          const b = el('button', { type: 'button', class: 'linklike', 'data-testid': 'advice-kill', text: id.slice(0, 8) });
          const kill = state.events.find((e) => e.id === id);
          if (kill) b.addEventListener('click', () => openKill(kill)); else b.disabled = true;
          ids.append(b, ' ');
        }
        tr.append(el('td', { class: 'advice-text' }, el('span', { text: ev.text || '' }), ids));
        tr.append(el('td', { class: 'advice-text', text: f.action }));
        rows.push(tr);
      });
    }
    $('advice-body').replaceChildren(...rows);
    $('advice-empty').hidden = shown.length > 0;
    $('advice-count').textContent = state.adviceEvent
      ? `(${shown.length} fed by kill ${state.adviceEvent.slice(0, 8)})`
      : state.adviceTotal > all.length ? `(the first ${all.length} of ${state.adviceTotal})` : `(${all.length})`;
    $('advice-hosts').textContent = state.adviceEvent ? '' : `${new Set(all.map((f) => f.host)).size} host(s)`;
    $('advice-clear').hidden = !state.adviceEvent;
  }

  /** Narrows the advice panel to the findings a kill feeds and scrolls to it. */
  function showAdviceFor(eventID) {
    state.adviceEvent = eventID;
    renderAdvice();
    $('advice').scrollIntoView({ block: 'start' });
    $('advice').focus({ preventScroll: true });
  }

  function adviceCell(ev) {
    const findings = state.adviceByEvent.get(ev.id) || [];
    if (!findings.length) return el('td', { class: 'sub', text: '–' });
    const b = el('button', {
      type: 'button', class: 'linklike', 'data-testid': 'kill-advice',
      text: findings.map((f) => f.kind).filter((k, i, a) => a.indexOf(k) === i).join(', '),
      'aria-label': `${findings.length} finding(s) this kill feeds`,
    });
    b.addEventListener('click', () => showAdviceFor(ev.id));
    return el('td', null, b);
  }

  // ---------------------------------------------------------------- alerts

  /** The alerts panel: receivers (failing ones marked) and the newest notifications.
   *  Its own request, so a collector without alerts never breaks the rest. */
  async function loadAlerts() {
    let data;
    try {
      data = await api('alerts', { limit: 50 });
    } catch (_) {
      return;
    }
    const receivers = data.receivers || [];
    const recent = data.notifications || [];
    const failing = receivers.filter((r) => r.failing > 0).length;
    $('alerts-count').textContent = receivers.length
      ? `${receivers.length} receiver${receivers.length === 1 ? '' : 's'}` + (failing ? `, ${failing} failing` : '') : '';
    $('alerts-empty').hidden = receivers.length > 0;
    $('alert-receivers-body').replaceChildren(...receivers.map((r) => el('tr',
      { 'data-testid': 'alert-receiver', class: r.failing > 0 ? 'bad' : '' },
      el('td', null, r.receiver),
      el('td', { class: 'num' }, r.sent),
      el('td', { class: 'num' }, r.pending),
      el('td', { class: 'num' }, r.failing),
      el('td', null, r.last_sent ? fmtTime(r.last_sent) : '–'),
      el('td', null, r.last_error || '–'))));
    $('alert-recent-body').replaceChildren(...recent.map((n) => el('tr',
      { 'data-testid': 'alert-row', class: n.state === 'failing' ? 'bad' : '' },
      el('td', null, fmtTime(n.created)),
      el('td', null, n.receiver),
      el('td', null, n.state),
      el('td', null, n.host),
      el('td', null, n.comm),
      el('td', { class: 'num hide-sm' }, n.attempts),
      el('td', { class: 'hide-sm' }, n.last_error || '–'))));
  }

  // ---------------------------------------------------------------- overview

  function setCard(id, value, level) {
    const v = $(id);
    v.textContent = safeText(value === null || value === undefined ? '–' : String(value));
    const card = v.closest('.card');
    card.classList.remove('ok', 'warn', 'bad');
    if (level) card.classList.add(level);
  }

  function renderOverview() {
    const rows = state.hosts.map(hostRow);
    const stale = rows.filter((r) => r.h.stale).length;
    const risk = rows.filter((r) => r.risk).length;
    const k24 = state.summary24 ? state.summary24.totals.kills : null;
    const k7 = state.summary7 ? state.summary7.totals.kills : null;
    setCard('ov-hosts', rows.length, rows.length ? 'ok' : null);
    setCard('ov-stale', stale, stale ? 'warn' : 'ok');
    const missing = state.missing.length;
    $('ov-missing-card').hidden = missing === 0;
    setCard('ov-missing', missing, missing ? 'bad' : 'ok');
    setCard('ov-risk', risk, risk ? 'bad' : 'ok');
    setCard('ov-kills24', k24, k24 ? 'bad' : 'ok');
    setCard('ov-kills7', k7, k7 ? 'warn' : 'ok');

    const bits = [];
    const s7 = state.summary7;
    if (s7) {
      const t = s7.totals;
      if (t.kills) bits.push(`${t.hosts_with_kills} of ${t.hosts} hosts had kills in 7 d`);
      const comms = (s7.by_comm || []).slice(0, 4).map((r) => `${r.key} ×${r.kills}`);
      if (comms.length) bits.push('most killed: ' + comms.join(', '));
      const scopes = Object.entries(t.by_scope || {}).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
      if (scopes.length) bits.push('scope: ' + scopes.join(', '));
      const rep = (s7.repeat_offenders || []).length;
      if (rep) bits.push(`${rep} repeat offender${rep === 1 ? '' : 's'} (3+ kills of one process on one host)`);
    }
    // Loss is data: hosts whose agents could not deliver everything.
    const lossy = state.hosts.filter((h) => h.agent && (h.agent.dropped_events || h.agent.dropped_snapshots ||
      h.agent.kmsg_overruns || h.agent.kmsg_missed_records || h.agent.unattributed_kills)).map((h) => h.host);
    if (lossy.length) bits.push(`agents reporting lost data: ${lossy.slice(0, 5).join(', ')}${lossy.length > 5 ? ' …' : ''}`);
    $('ov-detail').textContent = safeText(bits.join(' · '));
    document.title = safeText((k24 ? `(${k24}) ` : '') + (risk ? `${risk} at risk · ` : '') + 'oomwatch');
  }

  // ---------------------------------------------------------------- timeline

  function floorTo(d, bucket) {
    const x = new Date(d);
    if (bucket === 'day') x.setHours(0, 0, 0, 0);
    else x.setMinutes(0, 0, 0);
    return x;
  }

  function nextBucket(d, bucket) {
    const x = new Date(d);
    if (bucket === 'day') x.setDate(x.getDate() + 1);
    else x.setHours(x.getHours() + 1);
    return x;
  }

  /** An axis from 0 with about `ticks` round steps (1, 2, 2.5 or 5 × 10^k) covering `v`. */
  function niceScale(v, ticks, integer) {
    const raw = Math.max(v, integer ? 1 : 1e-9) / ticks;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw);
    if (integer) step = Math.max(1, Math.ceil(step));
    return { max: Math.ceil(v / step - 1e-9) * step || step, step };
  }

  function chartWidth(container) {
    return Math.max(280, Math.floor(container.clientWidth || container.getBoundingClientRect().width || 800));
  }

  function renderTimeline() {
    const box = $('timeline');
    const range = $('tl-range').value;
    let bucket = $('tl-bucket').value;
    if (bucket === 'auto') bucket = range === '24h' ? 'hour' : 'day';
    const stackBy = $('tl-stack').value;
    const now = new Date();
    const start = floorTo(new Date(now.getTime() - rangeSeconds(range) * 1000), bucket);
    const buckets = [];
    for (let t = start; t <= now; t = nextBucket(t, bucket)) buckets.push(t);
    const index = (ts) => {
      const t = new Date(ts).getTime();
      if (isNaN(t) || t < start.getTime()) return -1;
      // Buckets are few (≤ 720); a binary search keeps DST-shifted day lengths exact.
      let lo = 0, hi = buckets.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (buckets[mid].getTime() <= t) lo = mid; else hi = mid - 1;
      }
      return lo;
    };

    const keyOf = (ev) => (stackBy === 'comm' ? (ev.victim && ev.victim.comm) : ev.host) || '(unknown)';
    const totals = new Map();
    for (const ev of state.events) {
      if (index(ev.time) < 0) continue;
      const k = keyOf(ev);
      totals.set(k, (totals.get(k) || 0) + 1);
    }
    const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const maxKeys = ranked.length > PALETTE.length ? PALETTE.length - 1 : PALETTE.length;
    const colorOf = new Map(ranked.slice(0, maxKeys).map(([k], i) => [k, PALETTE[i]]));
    const OTHER = '\u0000other';
    const counts = buckets.map(() => new Map());
    let undated = 0;
    for (const ev of state.events) {
      const i = index(ev.time);
      if (i < 0) { if (!ev.time) undated++; continue; }
      const k = colorOf.has(keyOf(ev)) ? keyOf(ev) : OTHER;
      counts[i].set(k, (counts[i].get(k) || 0) + 1);
    }
    const order = [...colorOf.keys(), OTHER];
    const maxCount = Math.max(0, ...counts.map((m) => [...m.values()].reduce((a, b) => a + b, 0)));

    const W = chartWidth(box);
    const H = W < 500 ? 170 : 210;
    const M = { l: 34, r: 8, t: 10, b: 24 };
    const iw = W - M.l - M.r;
    const ih = H - M.t - M.b;
    const scale = niceScale(maxCount || 1, 4, true);
    const yMax = scale.max;
    const root = svg('svg', {
      width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-testid': 'timeline-svg',
      'aria-label': `OOM kills per ${bucket}, stacked by ${stackBy === 'comm' ? 'process' : 'host'}: ${state.events.length} kills`,
    });
    for (let v = 0; v <= yMax; v += scale.step) {
      const y = M.t + ih - (v / yMax) * ih;
      root.append(svg('line', { class: 'grid', x1: M.l, x2: W - M.r, y1: y, y2: y }));
      root.append(svg('text', { x: M.l - 6, y: y + 4, 'text-anchor': 'end', text: Number.isInteger(v) ? v : v.toFixed(1) }));
    }
    const bw = iw / buckets.length;
    const gap = bw > 6 ? Math.min(3, bw * 0.18) : 0.5;
    const labelEvery = Math.max(1, Math.ceil(58 / bw));
    buckets.forEach((b, i) => {
      const x = M.l + i * bw;
      if (i % labelEvery === 0) {
        const label = bucket === 'day'
          ? b.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
          : (b.getHours() === 0 ? b.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) : pad(b.getHours()) + ':00');
        root.append(svg('text', { x: x + bw / 2, y: H - 6, 'text-anchor': 'middle', text: label }));
      }
      let y = M.t + ih;
      for (const k of order) {
        const n = counts[i].get(k);
        if (!n) continue;
        const h = (n / yMax) * ih;
        y -= h;
        const name = k === OTHER ? 'other' : k;
        const when = bucket === 'day' ? fmtTime(b).slice(0, 10) : fmtTime(b).slice(0, 16);
        const rect = svg('rect', {
          class: 'bar', x: x + gap / 2, y, width: Math.max(0.5, bw - gap), height: Math.max(0.5, h),
          fill: k === OTHER ? OTHER_COLOR : colorOf.get(k), 'data-key': name,
          on: k === OTHER ? null : { click: () => { $('kills-filter').value = name; renderKills(); $('kills-title').scrollIntoView({ behavior: 'smooth' }); } },
        }, svg('title', { text: `${when} · ${name}: ${n} kill${n === 1 ? '' : 's'}` }));
        root.append(rect);
      }
    });
    root.append(svg('line', { class: 'axis', x1: M.l, x2: W - M.r, y1: M.t + ih, y2: M.t + ih }));
    if (!maxCount) {
      root.append(svg('text', { class: 'nodata', x: M.l + iw / 2, y: M.t + ih / 2, 'text-anchor': 'middle', text: 'No OOM kills in this range' }));
    }
    box.replaceChildren(root);

    const legend = $('timeline-legend');
    const items = ranked.slice(0, maxKeys).map(([k, n]) =>
      el('li', null, el('span', { class: 'swatch', style: `background:${colorOf.get(k)}` }), `${k} (${n})`));
    const otherN = ranked.slice(maxKeys).reduce((a, [, n]) => a + n, 0);
    if (otherN) items.push(el('li', null, el('span', { class: 'swatch', style: `background:${OTHER_COLOR}` }), `other (${otherN})`));
    if (undated) items.push(el('li', { class: 'hint', text: `${undated} kill${undated === 1 ? '' : 's'} without a wall-clock time not shown` }));
    if (state.eventsTruncated) items.push(el('li', { class: 'hint', text: `only the newest ${state.events.length} kills are drawn` }));
    legend.replaceChildren(...items);
  }

  // ---------------------------------------------------------------- hosts table

  const SORTERS = {
    host: (r) => r.h.host,
    state: (r) => r.rank * 1e6 + r.kills,
    used: (r) => (r.availPct === null ? -1 : 100 - r.availPct),
    swap: (r) => (r.swapUsed === null ? -1 : r.swapUsed),
    psi: (r) => (r.full60 || 0) * 1000 + (r.some10 || 0),
    kills: (r) => r.kills,
    last_kill: (r) => (r.h.last_kill ? new Date(r.h.last_kill).getTime() : 0),
    last_seen: (r) => new Date(r.h.last_seen).getTime() || 0,
  };

  function setupSortHeaders() {
    for (const th of document.querySelectorAll('#hosts-table th[data-sort]')) {
      const key = th.dataset.sort;
      const label = th.textContent;
      const btn = el('button', { type: 'button', 'data-testid': 'sort-' + key, text: label });
      btn.addEventListener('click', () => {
        if (state.sort.key === key) state.sort.dir = -state.sort.dir;
        else state.sort = { key, dir: key === 'host' ? 1 : -1 };
        renderHosts();
      });
      th.replaceChildren(btn);
    }
  }

  function renderHosts() {
    const q = $('hosts-filter').value.trim().toLowerCase();
    const problems = $('hosts-problems').checked;
    const all = state.hosts.map(hostRow);
    const rows = all.filter((r) => (!q || r.h.host.toLowerCase().includes(q) || (r.h.kernel || '').toLowerCase().includes(q)) &&
      (!problems || r.risk || r.h.stale || r.kills > 0));
    const { key, dir } = state.sort;
    const get = SORTERS[key] || SORTERS.state;
    rows.sort((a, b) => {
      const x = get(a), y = get(b);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.h.host < b.h.host ? -1 : a.h.host > b.h.host ? 1 : 0;
    });
    for (const th of document.querySelectorAll('#hosts-table th[data-sort]')) {
      if (th.dataset.sort === key) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    // Expected hosts that never reported: listed after the known ones (a rollout's gaps),
    // also under "problems only".
    const missing = state.missing.filter((name) => !q || name.toLowerCase().includes(q));
    const total = all.length + state.missing.length;
    const shown = rows.length + missing.length;
    $('hosts-count').textContent = safeText(shown === total ? `(${total})` : `(${shown} of ${total})`);
    $('hosts-empty').hidden = total > 0;
    $('hosts-body').replaceChildren(...rows.map(hostTableRow), ...missing.map(missingHostRow));
  }

  function hostTableRow(r) {
    const h = r.h;
    const tr = el('tr', { 'data-testid': 'host-row', 'data-host': h.host, class: state.selectedHost === h.host ? 'selected' : null });
    const nameBtn = el('button', { type: 'button', class: 'linklike', 'data-testid': 'host-link', text: h.host });
    nameBtn.addEventListener('click', () => openHost(h.host));
    const sub = [h.kernel, h.agent_version ? 'agent ' + h.agent_version : null].filter(Boolean).join(' · ');
    tr.append(el('td', null, nameBtn, sub ? el('span', { class: 'sub hide-sm', text: sub }) : null));

    const badges = el('td');
    const why = [];
    if (typeof r.availPct === 'number' && r.availPct < 10) why.push(`MemAvailable ${fmtNum(r.availPct, 1)}% of MemTotal (< 10%)`);
    if (typeof r.full60 === 'number' && r.full60 > 10) why.push(`PSI full avg60 ${fmtNum(r.full60, 1)} (> 10)`);
    for (const word of hostStateWords(r)) {
      badges.append(el('span', { class: 'badge ' + STATE_BADGE[word], text: word,
        title: word === 'at risk' ? why.join('; ') || null : null }));
    }
    tr.append(badges);

    const memTd = el('td', { class: 'col-mem' });
    if (r.total) {
      const usedPct = Math.max(0, Math.min(100, 100 - (r.availPct || 0)));
      const level = r.availPct < 10 ? 'bad' : r.availPct < 20 ? 'warn' : '';
      memTd.append(el('div', { class: 'membar', 'data-testid': 'membar' },
        el('div', {
          class: 'track', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': usedPct.toFixed(0),
          'aria-label': `memory used ${usedPct.toFixed(0)}%`,
          title: `used ${fmtKB(r.used)} · available ${fmtKB(r.avail)} of ${fmtKB(r.total)}`,
        },
        el('div', { class: ('used ' + level).trim(), style: `width:${usedPct.toFixed(1)}%` }),
        el('div', { class: 'avail', style: `width:${(100 - usedPct).toFixed(1)}%` })),
        el('div', { class: 'label', text: `${fmtNum(r.availPct)}% avail · ${fmtKB(r.used)} used of ${fmtKB(r.total)}` })));
    } else {
      memTd.append(el('span', { class: 'n-zero', text: 'no snapshot' }));
    }
    tr.append(memTd);

    tr.append(el('td', { class: 'num hide-sm', text: r.swapUsed === null ? '–' : fmtKB(r.swapUsed) }));
    const psi = el('td', { class: 'num', title: 'some avg10 / full avg60, % of time stalled' });
    psi.append(el('span', { class: r.some10 > 10 ? 'n-warn' : null, text: fmtNum(r.some10, 1) }), ' / ',
      el('span', { class: r.full60 > 10 ? 'n-bad' : r.full60 > 1 ? 'n-warn' : null, text: fmtNum(r.full60, 1) }));
    tr.append(psi);
    tr.append(el('td', { class: 'num ' + (r.kills ? 'n-bad' : 'n-zero'), 'data-testid': 'host-kills', text: r.kills }));
    const lk = h.last_kill ? timeCell(h.last_kill) : el('td', { class: 'n-zero', text: '–' });
    lk.classList.add('hide-sm');
    tr.append(lk);
    const seen = timeCell(h.last_seen);
    if (h.stale) seen.classList.add('n-warn');
    tr.append(seen);
    return tr;
  }

  /** A row for an expected host that never reported: its name, "missing", "never". */
  function missingHostRow(name) {
    const tr = el('tr', { 'data-testid': 'missing-host-row', 'data-host': name, 'data-state': 'missing' });
    tr.append(el('td', null, el('span', { text: name }), el('span', { class: 'sub hide-sm', text: 'expected, never reported' })));
    tr.append(el('td', null, el('span', { class: 'badge bad', 'data-testid': 'badge-missing', text: 'missing',
      title: 'in the collector\'s expected hosts file, but no agent has reported from it' })));
    tr.append(el('td', { class: 'col-mem' }, el('span', { class: 'n-zero', text: 'no snapshot' })));
    tr.append(el('td', { class: 'num hide-sm n-zero', text: '–' }));
    tr.append(el('td', { class: 'num n-zero', text: '–' }));
    tr.append(el('td', { class: 'num n-zero', 'data-testid': 'host-kills', text: '–' }));
    tr.append(el('td', { class: 'n-zero hide-sm', text: '–' }));
    tr.append(el('td', { class: 'n-bad', text: 'never' }));
    return tr;
  }

  // ---------------------------------------------------------------- kills table

  function eventText(ev) {
    const v = ev.victim || {};
    return [ev.host, v.comm, v.pid, v.unit, v.container_id, v.cgroup, v.cmdline, ev.scope, ev.source,
      ev.memcg && ev.memcg.oom].filter((x) => x !== null && x !== undefined).join(' ').toLowerCase();
  }

  function renderKills() {
    const q = $('kills-filter').value.trim().toLowerCase();
    const evs = q ? state.events.filter((ev) => eventText(ev).includes(q)) : state.events;
    const range = $('tl-range').selectedOptions[0].textContent;
    $('kills-count').textContent = safeText(`(${evs.length}${q ? ' of ' + state.events.length : ''} in ${range})`);
    $('kills-empty').hidden = evs.length > 0;
    const shown = Math.min(evs.length, state.killRows);
    $('kills-more').hidden = shown === evs.length && !state.eventsTruncated;
    $('kills-more-text').textContent = safeText((shown < evs.length ? `Showing the newest ${shown} of ${evs.length}. ` : '') +
      (state.eventsTruncated ? `Only the newest ${state.events.length} kills of the range were loaded.` : ''));
    $('kills-more-btn').hidden = shown === evs.length;
    $('kills-body').replaceChildren(...evs.slice(0, shown).map((ev) => killRow(ev, true)));
  }

  function scopeBadge(ev) {
    const s = ev.scope || (ev.source !== 'kernel' ? ev.source : null) || 'unknown';
    const cls = s === 'global' ? 'bad' : s === 'memcg' ? 'warn' : 'muted';
    return el('span', { class: 'badge ' + cls, text: s });
  }

  function killRow(ev, withHost) {
    const v = ev.victim || {};
    const tr = el('tr', { 'data-testid': 'kill-row', 'data-id': ev.id });
    tr.append(timeCell(ev.time));
    if (withHost) {
      const hb = el('button', { type: 'button', class: 'linklike', text: ev.host || '–' });
      if (ev.host) hb.addEventListener('click', () => openHost(ev.host));
      tr.append(el('td', null, hb));
    }
    const vb = el('button', {
      type: 'button', class: 'linklike victim-name', 'data-testid': 'kill-victim', text: v.comm || '?',
      'aria-label': `Details of the kill of ${v.comm || 'unknown'} (pid ${pidText(v)})`,
    });
    vb.addEventListener('click', () => openKill(ev));
    tr.append(el('td', { class: 'victim-cell' }, vb, el('span', { class: 'sub', text: `pid ${pidText(v)}` + (ev.source && ev.source !== 'kernel' ? ' · ' + ev.source : '') })));
    tr.append(el('td', { class: 'num', text: fmtKB(victimRSS(ev)) }));
    tr.append(el('td', null, scopeBadge(ev)));
    if (withHost) {
      const where = el('td', { class: 'cgroup hide-sm' });
      const unit = v.unit || (v.container_id ? 'container ' + v.container_id.slice(0, 12) : null);
      if (unit) where.append(el('strong', { text: unit }));
      const cg = v.cgroup || (ev.memcg && (ev.memcg.task || ev.memcg.oom));
      if (cg) where.append(el('span', { class: 'sub', text: cg }));
      if (!unit && !cg) where.append('–');
      tr.append(where);
      tr.append(adviceCell(ev));
    }
    return tr;
  }

  // ---------------------------------------------------------------- kill detail

  function fact(dl, label, value, mono) {
    if (value === null || value === undefined || value === '') return;
    dl.append(el('div', null, el('dt', { text: label }), el('dd', { class: mono ? 'mono' : null, text: value })));
  }

  async function openKill(ev) {
    state.openKillID = ev.id;
    renderKill(ev);
    const dlg = $('kill-detail');
    if (!dlg.open) {
      if (typeof dlg.showModal === 'function') dlg.showModal(); else dlg.setAttribute('open', '');
    }
    // The list already holds the whole event; fetching it by id shows what the store has now.
    try {
      const fresh = await api('events/' + encodeURIComponent(ev.id));
      if (state.openKillID === ev.id) renderKill(fresh);
    } catch (_) { /* keep the list's copy */ }
  }

  function renderKill(ev) {
    const v = ev.victim || {};
    state.openKillHost = ev.host || null;
    $('kill-host').hidden = !ev.host;
    $('kill-title').textContent = safeText(`${v.comm || '?'} (pid ${pidText(v)}) killed on ${ev.host || 'unknown host'}`);
    const dl = $('kill-facts');
    dl.replaceChildren();
    fact(dl, 'Time', ev.time ? `${fmtTime(ev.time)} (${fmtAgo(ev.time)})` : null);
    fact(dl, 'Host', ev.host);
    fact(dl, 'Source', ev.source);
    fact(dl, 'Scope', [ev.scope, ev.constraint].filter(Boolean).join(' · '));
    fact(dl, 'Victim', `${v.comm} · pid ${pidText(v)}` + (v.uid !== undefined && v.uid !== null ? ` · uid ${v.uid}` : ''));
    fact(dl, 'RSS at kill', victimRSS(ev) === null ? null : `${fmtKB(victimRSS(ev))} (anon ${fmtKB(v.anon_rss_kb)}, file ${fmtKB(v.file_rss_kb)}, shmem ${fmtKB(v.shmem_rss_kb)})`);
    fact(dl, 'Total VM', v.total_vm_kb !== undefined ? fmtKB(v.total_vm_kb) : null);
    fact(dl, 'Page tables', v.pgtables_kb !== undefined ? fmtKB(v.pgtables_kb) : null);
    fact(dl, 'Last sampled RSS', v.last_rss_kb !== undefined ? fmtKB(v.last_rss_kb) : null);
    fact(dl, 'oom_score_adj', v.oom_score_adj);
    fact(dl, 'Score', v.score);
    fact(dl, 'Unit', v.unit);
    fact(dl, 'Container', v.container_id, true);
    fact(dl, 'Pod', v.pod_uid, true);
    fact(dl, 'Cgroup', v.cgroup, true);
    fact(dl, 'Command line', v.cmdline, true);
    const t = ev.trigger;
    if (t) {
      fact(dl, 'Triggered by', [t.comm, t.pid !== undefined ? 'pid ' + t.pid : null].filter(Boolean).join(' · '));
      fact(dl, 'Allocation', [t.gfp_mask ? 'gfp ' + t.gfp_mask : null, t.order !== undefined ? 'order ' + t.order : null].filter(Boolean).join(', '), true);
    }
    const m = ev.memcg;
    if (m) {
      fact(dl, 'Memcg at limit', m.oom, true);
      fact(dl, 'Victim memcg', m.task && m.task !== m.oom ? m.task : null, true);
      if (m.usage_kb !== undefined || m.limit_kb !== undefined) fact(dl, 'Memcg usage / limit', `${fmtKB(m.usage_kb)} / ${fmtKB(m.limit_kb)}`);
    }
    if (ev.reaped) fact(dl, 'Left after oom_reaper', `anon ${fmtKB(ev.reaped.anon_rss_kb)}, file ${fmtKB(ev.reaped.file_rss_kb)}, shmem ${fmtKB(ev.reaped.shmem_rss_kb)}`);
    fact(dl, 'Cpuset / mems', [ev.cpuset, ev.mems_allowed].filter(Boolean).join(' · '), true);
    fact(dl, 'Boot', ev.boot_id, true);
    fact(dl, 'Uptime', typeof ev.uptime_s === 'number' ? ev.uptime_s.toFixed(3) + ' s' : null);
    fact(dl, 'Event id', ev.id, true);

    const trig = ev.trigger && ev.trigger.pid;
    const cands = (ev.candidates || []).slice().sort((a, b) => (b.rss_pages || 0) - (a.rss_pages || 0));
    $('kill-cand-count').textContent = safeText(cands.length ? `(${cands.length} tasks)` : '');
    $('kill-cand-note').textContent = safeText(cands.length
      ? 'Largest first; pages shown at 4 KiB. The victim is highlighted.'
      : 'The report had no task table (vm.oom_dump_tasks off, or a userspace killer).');
    $('kill-candidates').hidden = !cands.length;
    $('kill-candidates').tBodies[0].replaceChildren(...cands.map((c) => {
      const tr = el('tr', { 'data-testid': 'candidate-row', class: c.pid === v.pid ? 'victim' : null },
        el('td', { class: 'num', text: c.pid }),
        el('td', null, c.name, ...(trig && c.pid === trig && c.pid !== v.pid ? [' ', el('span', { class: 'badge muted', text: 'trigger' })] : [])),
        el('td', { class: 'num', text: c.uid ?? '–' }),
        el('td', { class: 'num', text: typeof c.rss_pages === 'number' ? fmtKB(c.rss_pages * PAGE_KB) : '–' }),
        el('td', { class: 'num', text: typeof c.total_vm_pages === 'number' ? fmtKB(c.total_vm_pages * PAGE_KB) : '–' }),
        el('td', { class: 'num', text: typeof c.swapents === 'number' ? fmtKB(c.swapents * PAGE_KB) : '–' }),
        el('td', { class: 'num', text: c.oom_score_adj ?? '–' }));
      if (c.pid === v.pid) tr.setAttribute('aria-label', 'victim');
      return tr;
    }));
    $('kill-raw').textContent = safeText(ev.raw || '(no raw report stored)');
  }

  // ---------------------------------------------------------------- host detail

  /** Keeps `#host=NAME` in the address bar so a host's view can be shared or reloaded. */
  function setHostFragment(name) {
    const url = location.pathname + location.search + (name ? '#host=' + encodeURIComponent(name) : '');
    history.replaceState(null, '', url);
  }

  function openHost(name) {
    setHostFragment(name);
    state.selectedHost = name;
    state.hostDetail = null;
    const sec = $('host-detail');
    sec.hidden = false;
    $('host-detail-title').textContent = safeText(name);
    $('hd-facts').replaceChildren();
    $('hd-mem-chart').replaceChildren(el('p', { class: 'hint', text: 'loading…' }));
    $('hd-psi-chart').replaceChildren();
    renderHosts();
    sec.scrollIntoView({ behavior: 'smooth', block: 'start' });
    sec.focus({ preventScroll: true });
    loadHostDetail(name, false);
  }

  function closeHost() {
    setHostFragment(null);
    state.selectedHost = null;
    state.hostDetail = null;
    $('host-detail').hidden = true;
    renderHosts();
  }

  async function loadHostDetail(name, quiet) {
    const range = $('hd-range').value;
    try {
      const [snaps, evs] = await Promise.all([
        api('hosts/' + encodeURIComponent(name) + '/snapshots', { since: range, points: 400 }),
        fetchEvents({ host: name, since: range }, 2000),
      ]);
      if (state.selectedHost !== name) return;
      state.hostDetail = { name, range, snaps, events: evs.events };
      renderHostDetail();
    } catch (e) {
      if (e instanceof AuthError) throw e;
      if (!quiet) $('hd-mem-chart').replaceChildren(el('p', { class: 'error-text', text: 'Could not load: ' + e.message }));
    }
  }

  function renderHostDetail() {
    const d = state.hostDetail;
    if (!d) return;
    const h = state.hosts.find((x) => x.host === d.name) || { host: d.name };
    const dl = $('hd-facts');
    dl.replaceChildren();
    const m = h.memory || {};
    fact(dl, 'Last seen', h.last_seen ? `${fmtTime(h.last_seen)} (${fmtAgo(h.last_seen)})` + (h.stale ? ' · stale' : '') : null);
    fact(dl, 'Memory', m.total_kb !== undefined ? `${fmtKB(m.available_kb)} available of ${fmtKB(m.total_kb)}` : null);
    fact(dl, 'Swap', m.swap_total_kb ? `${fmtKB(m.swap_total_kb - (m.swap_free_kb || 0))} used of ${fmtKB(m.swap_total_kb)}` : (m.swap_total_kb === 0 ? 'none' : null));
    const p = h.pressure;
    if (p) fact(dl, 'PSI some / full', `avg10 ${fmtNum(p.some_avg10, 1)} / ${fmtNum(p.full_avg10, 1)} · avg60 ${fmtNum(p.some_avg60, 1)} / ${fmtNum(p.full_avg60, 1)}`);
    fact(dl, 'Kills in range', String(d.events.length));
    fact(dl, 'Kernel', h.kernel);
    fact(dl, 'Agent', [h.agent_version, h.interval_s ? `every ${h.interval_s} s` : null].filter(Boolean).join(' · '));
    fact(dl, 'Boot', h.boot_id, true);
    const a = h.agent || {};
    const losses = [['dropped snapshots', a.dropped_snapshots], ['dropped events', a.dropped_events],
      ['kmsg overruns', a.kmsg_overruns], ['unattributed kills', a.unattributed_kills], ['source errors', a.source_errors]]
      .filter(([, n]) => n).map(([k, n]) => `${k} ${n}`);
    if (losses.length) fact(dl, 'Agent losses', losses.join(', '));

    const pts = d.snaps.points || [];
    let start = new Date(d.snaps.since).getTime();
    const end = new Date(d.snaps.until).getTime();
    // A host that joined recently would fill a sliver of the range: start at its data.
    const firsts = pts.map((pt) => new Date(pt.time).getTime())
      .concat(d.events.map((ev) => new Date(ev.time).getTime())).filter((t) => !isNaN(t));
    if (firsts.length) {
      const first = Math.min(...firsts);
      if (first > start) start = Math.max(start, first - (end - first) * 0.03);
    }
    const step = (d.snaps.step_s || 30) * 1000;
    const series = (f) => pts.map((pt) => [new Date(pt.time).getTime(), f(pt)]).filter(([t, v]) => !isNaN(t) && typeof v === 'number' && isFinite(v));
    const used = series((pt) => (pt.total_kb != null && pt.available_kb != null ? pt.total_kb - pt.available_kb : null));
    const total = series((pt) => pt.total_kb);
    const avail = series((pt) => pt.available_kb);
    const minAvail = series((pt) => pt.min_available_kb);
    const yMaxMem = Math.max(1, ...total.map((x) => x[1]), ...used.map((x) => x[1]));
    const kills = d.events.filter((ev) => ev.time).map((ev) => ({ t: new Date(ev.time).getTime(), ev }));

    drawSeries($('hd-mem-chart'), {
      start, end, step, yMax: yMaxMem, yFormat: (v) => (v ? fmtKB(v) : '0'), testid: 'hd-mem-svg',
      label: `Memory of ${d.name}`,
      series: [
        { cls: 'area-used', data: used, area: true, name: 'used' },
        { cls: 'line-used', data: used, name: 'used (total − available)', color: 'var(--accent)' },
        { cls: 'line-avail', data: avail, name: 'available', color: 'var(--ok)' },
        { cls: 'line-minavail', data: minAvail, name: 'min available', color: 'var(--ok)' },
        { cls: 'line-total', data: total, name: 'total', color: 'var(--muted)' },
      ],
      kills, labelKills: true,
    });
    const some = series((pt) => pt.some_avg10);
    const full = series((pt) => pt.full_avg10);
    const full60 = series((pt) => pt.full_avg60);
    const psiScale = niceScale(Math.max(10, ...some.map((x) => x[1]), ...full.map((x) => x[1]), ...full60.map((x) => x[1])) * 1.05, 4);
    drawSeries($('hd-psi-chart'), {
      start, end, step, yMax: psiScale.max, yStep: psiScale.step, yFormat: (v) => (v ? +v.toFixed(1) + '%' : '0'), testid: 'hd-psi-svg',
      label: `Memory pressure of ${d.name}`, height: 150,
      series: [
        { cls: 'line-some', data: some, name: 'some avg10', color: 'var(--warn)' },
        { cls: 'line-full', data: full, name: 'full avg10', color: 'var(--bad)' },
        { cls: 'line-full', data: full60, name: 'full avg60', color: 'var(--bad)', dashed: true },
      ],
      threshold: { v: 10, name: 'at risk: full avg60 > 10' },
      kills,
    });

    $('hd-kills').tBodies[0].replaceChildren(...d.events.slice(0, 100).map((ev) => killRow(ev, false)));
    const procs = ((d.snaps.latest && d.snaps.latest.processes) || []).slice().sort((a, b) => b.rss_kb - a.rss_kb).slice(0, 12);
    $('hd-procs').tBodies[0].replaceChildren(...procs.map((p) => el('tr', { 'data-testid': 'proc-row' },
      el('td', null, el('span', { text: p.comm }), p.cmdline ? el('span', { class: 'sub cgroup', text: p.cmdline.slice(0, 120) }) : null),
      el('td', { class: 'num', text: p.pid }),
      el('td', { class: 'num', text: fmtKB(p.rss_kb) }),
      el('td', { class: 'num', text: p.oom_score ?? '–' }),
      el('td', { class: 'cgroup', text: p.unit || (p.container_id ? p.container_id.slice(0, 12) : '') || '–' }))));

    // Cgroups nearest their limit first: that is where the next memcg OOM comes from.
    const fill = (c) => (c.limit_kb > 0 && typeof c.usage_kb === 'number' ? c.usage_kb / c.limit_kb : -1);
    const cgs = ((d.snaps.latest && d.snaps.latest.cgroups) || []).slice()
      .sort((a, b) => fill(b) - fill(a) || (b.usage_kb || 0) - (a.usage_kb || 0)).slice(0, 20);
    $('hd-cgroups-box').hidden = !cgs.length;
    $('hd-cgroups').tBodies[0].replaceChildren(...cgs.map((c) => {
      const f = fill(c);
      const usage = el('td', { class: 'col-mem' });
      if (f >= 0) {
        const pct = Math.min(100, f * 100);
        usage.append(el('div', { class: 'membar' },
          el('div', { class: 'track', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct.toFixed(0), 'aria-label': `usage ${pct.toFixed(0)}% of limit` },
            el('div', { class: 'used' + (pct >= 90 ? ' bad' : pct >= 75 ? ' warn' : ''), style: `width:${pct.toFixed(1)}%` })),
          el('div', { class: 'label', text: `${fmtKB(c.usage_kb)} of ${fmtKB(c.limit_kb)} (${pct.toFixed(0)}%)` })));
      } else {
        usage.append(el('span', { text: `${fmtKB(c.usage_kb)} · no limit` }));
      }
      return el('tr', { 'data-testid': 'cgroup-row' },
        el('td', { class: 'cgroup', text: c.path }),
        usage,
        el('td', { class: 'num ' + (c.oom_kill ? 'n-bad' : 'n-zero'), text: c.oom_kill ?? '–' }));
    }));
  }

  const TICK_STEPS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]
    .map((x) => x * 1000);

  /** Round-time ticks (10:00, 10:30, …) in local time between start and end. */
  function timeTicks(start, end, maxTicks) {
    const span = end - start;
    const step = TICK_STEPS.find((x) => span / x <= maxTicks) || TICK_STEPS[TICK_STEPS.length - 1];
    const off = new Date(start).getTimezoneOffset() * 60000;
    const out = [];
    // Local midnight is a multiple of the step after shifting by the zone's offset.
    for (let t = Math.ceil((start - off) / step) * step + off; t <= end; t += step) {
      const d = new Date(t);
      const midnight = d.getHours() === 0 && d.getMinutes() === 0;
      const label = step >= 86400000 || (midnight && step >= 3600000)
        ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
        : pad(d.getHours()) + ':' + pad(d.getMinutes());
      out.push({ t, label });
    }
    return out;
  }

  /** A time-series chart on [start, end] with kill markers on the same axis. */
  function drawSeries(box, o) {
    const W = chartWidth(box);
    const H = o.height || (W < 500 ? 180 : 220);
    const M = { l: 62, r: 10, t: 14, b: 24 };
    const iw = W - M.l - M.r;
    const ih = H - M.t - M.b;
    const span = Math.max(1, o.end - o.start);
    const X = (t) => M.l + ((t - o.start) / span) * iw;
    const Y = (v) => M.t + ih - (Math.max(0, v) / o.yMax) * ih;
    // A group, not an image: the kill markers inside are focusable buttons.
    const root = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': o.label, 'data-testid': o.testid });

    const yStep = o.yStep || o.yMax / 4;
    for (let v = 0; v <= o.yMax + 1e-9; v += yStep) {
      const y = Y(v);
      root.append(svg('line', { class: 'grid', x1: M.l, x2: W - M.r, y1: y, y2: y }));
      root.append(svg('text', { x: M.l - 6, y: y + 4, 'text-anchor': 'end', text: o.yFormat(v) }));
    }
    for (const t of timeTicks(o.start, o.end, Math.max(2, Math.floor(iw / 95)))) {
      const x = X(t.t);
      root.append(svg('line', { class: 'grid', x1: x, x2: x, y1: M.t + ih, y2: M.t + ih + 4 }));
      root.append(svg('text', { x, y: H - 6, 'text-anchor': x < M.l + 20 ? 'start' : x > W - M.r - 20 ? 'end' : 'middle', text: t.label }));
    }
    if (o.threshold && o.threshold.v < o.yMax) {
      root.append(svg('line', { class: 'threshold', x1: M.l, x2: W - M.r, y1: Y(o.threshold.v), y2: Y(o.threshold.v) },
        svg('title', { text: o.threshold.name })));
    }

    // A gap longer than a few buckets means the agent was silent: break the line there.
    const gapMs = Math.max(o.step * 2.5, 90000);
    let drawn = 0;
    for (const s of o.series) {
      if (!s.data.length) continue;
      drawn++;
      const segs = [];
      let cur = [];
      for (const p of s.data) {
        if (cur.length && p[0] - cur[cur.length - 1][0] > gapMs) { segs.push(cur); cur = []; }
        cur.push(p);
      }
      if (cur.length) segs.push(cur);
      let dAttr = '';
      for (const seg of segs) {
        if (s.area) {
          dAttr += `M${X(seg[0][0]).toFixed(1)},${Y(0).toFixed(1)}` +
            seg.map((p) => `L${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('') +
            `L${X(seg[seg.length - 1][0]).toFixed(1)},${Y(0).toFixed(1)}Z`;
        } else if (seg.length === 1) {
          const x = X(seg[0][0]), y = Y(seg[0][1]);
          dAttr += `M${(x - 1.5).toFixed(1)},${y.toFixed(1)}L${(x + 1.5).toFixed(1)},${y.toFixed(1)}`;
        } else {
          dAttr += seg.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('');
        }
      }
      const path = svg('path', { class: s.cls, d: dAttr, 'stroke-dasharray': s.dashed ? '5 3' : null });
      if (!s.area) path.append(svg('title', { text: s.name }));
      root.append(path);
    }
    root.append(svg('line', { class: 'axis', x1: M.l, x2: W - M.r, y1: M.t + ih, y2: M.t + ih }));

    let lastLabelX = -Infinity;
    const sorted = o.kills.slice().sort((a, b) => a.t - b.t);
    for (const k of sorted) {
      if (k.t < o.start || k.t > o.end) continue;
      const x = X(k.t);
      const name = (k.ev.victim && k.ev.victim.comm) || '?';
      // Name the victim beside its marker where there is room; the tooltip always has it.
      if (o.labelKills && x - lastLabelX > 90 && x < W - M.r - 40) {
        root.append(svg('text', { class: 'kill-label', x: x + 5, y: M.t + 14, text: name.length > 16 ? name.slice(0, 15) + '…' : name }));
        lastLabelX = x;
      }
      const g = svg('g', { class: 'kill', 'data-testid': 'kill-marker', tabindex: 0, role: 'button', 'aria-label': `kill of ${name} at ${fmtTime(k.t)}` },
        svg('line', { class: 'kill-mark', x1: x, x2: x, y1: M.t, y2: M.t + ih }),
        svg('circle', { class: 'kill-dot', cx: x, cy: M.t, r: 4 }),
        svg('title', { text: `OOM kill: ${name} (pid ${k.ev.victim && k.ev.victim.pid}) at ${fmtTime(k.t)}` }));
      g.addEventListener('click', () => openKill(k.ev));
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openKill(k.ev); } });
      root.append(g);
    }
    if (!drawn) {
      root.append(svg('text', { class: 'nodata', x: M.l + iw / 2, y: M.t + ih / 2, 'text-anchor': 'middle', text: 'No snapshots in this range' }));
    }

    const legend = el('ul', { class: 'legend' });
    for (const s of o.series) {
      if (s.area || !s.data.length) continue;
      legend.append(el('li', null, el('span', { class: 'swatch', style: `background:${s.color}` + (s.dashed ? ';opacity:.5' : '') }), s.name));
    }
    if (o.kills.length) legend.append(el('li', null, el('span', { class: 'swatch', style: 'background:var(--bad)' }), 'OOM kill'));
    box.replaceChildren(root, legend);
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    takeTokenFromFragment();
    state.token = sessionStorage.getItem(TOKEN_KEY);
    setupSortHeaders();

    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const t = $('token-input').value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      state.token = t;
      $('token-input').value = '';
      $('token-error').hidden = true;
      refresh().then(() => { if (state.token) startTimer(); });
    });
    $('logout').addEventListener('click', signOut);
    $('refresh').addEventListener('click', () => refresh());
    $('auto-refresh').addEventListener('change', () => {
      if (autoRefreshOn()) refresh();
      else if (state.loadedAt) setStatus('updated ' + fmtTime(state.loadedAt).slice(11) + ' · paused');
    });
    $('tl-range').addEventListener('change', () => refresh());
    $('tl-bucket').addEventListener('change', renderTimeline);
    $('tl-stack').addEventListener('change', renderTimeline);
    $('hosts-filter').addEventListener('input', renderHosts);
    $('hosts-problems').addEventListener('change', renderHosts);
    $('kills-filter').addEventListener('input', renderKills);
    $('advice-clear').addEventListener('click', () => { state.adviceEvent = null; renderAdvice(); });
    $('kills-more-btn').addEventListener('click', () => { state.killRows += KILL_ROWS; renderKills(); });
    $('host-detail-close').addEventListener('click', closeHost);
    $('hd-range').addEventListener('change', () => { if (state.selectedHost) loadHostDetail(state.selectedHost, false); });
    $('kill-close').addEventListener('click', () => $('kill-detail').close());
    $('kill-host').addEventListener('click', () => {
      const host = state.openKillHost;
      $('kill-detail').close();
      if (host) openHost(host);
    });
    $('kill-detail').addEventListener('close', () => { state.openKillID = null; });
    // A click on the backdrop (outside the dialog's box) closes it, as users expect.
    $('kill-detail').addEventListener('click', (e) => {
      const r = e.currentTarget.getBoundingClientRect();
      if (e.target === e.currentTarget && (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom)) {
        e.currentTarget.close();
      }
    });
    // Pasting a `#token=` link into an open tab changes only the fragment: no reload.
    window.addEventListener('hashchange', () => {
      if (!/(^#|&)token=/.test(location.hash)) return;
      takeTokenFromFragment();
      state.token = sessionStorage.getItem(TOKEN_KEY);
      if (state.token) refresh().then(() => { if (state.token) startTimer(); });
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && autoRefreshOn() && state.token && state.loadedAt && Date.now() - state.loadedAt > REFRESH_MS) refresh();
    });
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (!state.loadedAt) return;
        renderTimeline();
        renderHostDetail();
      }, 150);
    });

    if (!state.token) {
      showPrompt('');
      return;
    }
    const wanted = new URLSearchParams(location.hash.replace(/^#/, '')).get('host');
    refresh().then(() => {
      if (!state.token) return;
      startTimer();
      if (wanted) openHost(wanted);
    });
  }

  init();
})();
