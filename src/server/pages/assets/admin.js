// The admin console's script. The console uses the same JSON admin API as automation: every view
// is loaded with fetch() from /api/admin/* with the HttpOnly session cookie, and every change sends
// the session's CSRF token in an X-CSRF-Token header. Everything is built with DOM methods and
// textContent (never innerHTML), so data from the directory or the audit log cannot inject markup.
// Charts are inline SVG drawn here, each with a table holding every value.
(function () {
  'use strict';

  var body = document.body;
  var page = body.getAttribute('data-page');
  var csrf = body.getAttribute('data-csrf') || '';
  var language = body.getAttribute('data-lang') || 'en';
  var permissions = (body.getAttribute('data-permissions') || '').split(' ').filter(Boolean);
  var messages = JSON.parse(body.getAttribute('data-messages') || '{}');
  var SVG = 'http://www.w3.org/2000/svg';
  var errorBox = document.getElementById('console-error');
  var statusBox = document.getElementById('console-status');

  function may(permission) {
    return permissions.indexOf(permission) !== -1;
  }

  function t(key, values) {
    var text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  // ---- DOM building -------------------------------------------------------------------------

  function el(tag, attributes) {
    var node = document.createElement(tag);
    var attrs = attributes || {};
    Object.keys(attrs).forEach(function (name) {
      if (attrs[name] === null || attrs[name] === undefined || attrs[name] === false) return;
      if (name === 'text') node.textContent = String(attrs[name]);
      else node.setAttribute(name, attrs[name] === true ? '' : String(attrs[name]));
    });
    for (var i = 2; i < arguments.length; i += 1) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (item) { append(node, item); });
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }

  function svg(tag, attributes) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === 'text') node.textContent = String(attributes[name]);
      else node.setAttribute(name, String(attributes[name]));
    });
    return node;
  }

  function fill(id, content) {
    var target = document.getElementById(id);
    if (!target) return null;
    target.replaceChildren();
    append(target, content);
    return target;
  }

  /** A table in a scrollable region (focusable, so keyboard users can scroll it). */
  function table(caption, headers, rows, attributes) {
    if (rows.length === 0) return el('p', { class: 'empty', text: t('admin.js.none') });
    var head = el('tr', {}, headers.map(function (header) { return el('th', { scope: 'col', text: header }); }));
    var lines = rows.map(function (row) {
      return el('tr', {}, row.map(function (cell, index) { return index === 0 ? el('th', { scope: 'row' }, cell) : el('td', {}, cell); }));
    });
    return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption }, el('table', attributes || {}, el('caption', { text: caption }), el('thead', {}, head), el('tbody', {}, lines)));
  }

  function when(iso) {
    if (!iso) return '';
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : date.toLocaleString(language === 'de' ? 'de-DE' : 'en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'medium' }) + ' UTC';
  }

  function yesNo(value) {
    return value ? t('admin.js.yes') : t('admin.js.no');
  }

  function actorText(actor) {
    return actor ? actor.kind + (actor.id ? ':' + actor.id : '') : '';
  }

  // ---- API ----------------------------------------------------------------------------------

  function ApiError(status, problem) {
    this.status = status;
    this.problem = problem || {};
    this.message = (problem && (problem.detail || problem.title)) || 'HTTP ' + status;
  }

  /** One call to the admin API; a 401 on a signed-in page means the session ended: back to sign-in. */
  function api(method, url, payload) {
    var headers = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['x-csrf-token'] = csrf;
    return fetch(url, { method: method, headers: headers, credentials: 'same-origin', body: payload === undefined ? undefined : JSON.stringify(payload) }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        if (response.status === 401 && page !== 'sign-in') window.location.assign('/admin/sign-in?reason=expired');
        throw new ApiError(response.status, data);
      });
    });
  }

  function problemText(error) {
    var problem = error && error.problem ? error.problem : {};
    var key = 'error.' + problem.code;
    return problem.code && Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : error && error.message ? error.message : String(error);
  }

  /** Shows an API problem at the top of the page, with the field messages it carries, and focuses it. */
  function showError(error) {
    var problem = error && error.problem ? error.problem : {};
    var details = [];
    (Array.isArray(problem.errors) ? problem.errors : []).forEach(function (item) {
      details.push(typeof item === 'string' ? item : [item.path, item.message].filter(Boolean).join(': ') || JSON.stringify(item));
    });
    if (problem.detail && problem.code && details.length === 0) details.push(problem.detail);
    // Through fill()'s append, which skips the missing list (replaceChildren would print "null").
    errorBox.replaceChildren();
    append(errorBox, [el('p', { text: t('admin.js.error', { message: problemText(error) }) }), details.length ? el('ul', {}, details.map(function (text) { return el('li', { text: text }); })) : null]);
    errorBox.hidden = false;
    errorBox.setAttribute('tabindex', '-1');
    errorBox.focus();
  }

  function clearMessages() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    statusBox.textContent = '';
  }

  function say(text) {
    statusBox.textContent = text;
  }

  function query(params) {
    var search = new URLSearchParams();
    Object.keys(params).forEach(function (name) {
      if (params[name] !== undefined && params[name] !== null && params[name] !== '') search.set(name, String(params[name]));
    });
    return search.toString();
  }

  // ---- charts -------------------------------------------------------------------------------

  function legend(series) {
    return el('ul', { class: 'legend' }, series.map(function (item) {
      return el('li', {}, el('span', { class: 'swatch series-' + item.id, 'aria-hidden': 'true' }), item.label);
    }));
  }

  /** Per-day stacked columns: for each day a reset column and an unlock column, succeeded below failed. */
  function dailyChart(id, report) {
    var days = report.daily;
    var max = 1;
    days.forEach(function (day) {
      max = Math.max(max, day.reset.completed + day.reset.failed, day.unlock.completed + day.unlock.failed);
    });
    var slot = 22;
    var height = 160;
    var top = 16;
    var left = 28;
    var width = left + days.length * slot + 4;
    var chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + (height + top + 28), class: 'chart', role: 'img', 'aria-labelledby': id + '-title', 'aria-describedby': id + '-desc', focusable: 'false' });
    chart.append(svg('line', { x1: left, y1: top + height, x2: width, y2: top + height, class: 'axis' }));
    chart.append(svg('text', { x: left - 4, y: top + 4, class: 'tick', 'text-anchor': 'end', text: max }));
    chart.append(svg('text', { x: left - 4, y: top + height, class: 'tick', 'text-anchor': 'end', text: 0 }));
    days.forEach(function (day, index) {
      ['reset', 'unlock'].forEach(function (purpose, column) {
        var x = left + index * slot + column * 9 + 2;
        var y = top + height;
        ['completed', 'failed'].forEach(function (outcome) {
          var value = day[purpose][outcome];
          var barHeight = (value / max) * height;
          y -= barHeight;
          var rect = svg('rect', { x: x, y: y, width: 8, height: barHeight, class: 'bar series-' + purpose + '-' + outcome, 'data-day': day.day, 'data-series': purpose + '-' + outcome, 'data-value': value });
          rect.append(svg('title', { text: day.day + ': ' + t('admin.js.' + purpose + '_' + outcome) + ' ' + value }));
          chart.append(rect);
        });
      });
      if ((index % 7 === 0 && days.length - 1 - index >= 4) || index === days.length - 1) chart.append(svg('text', { x: left + index * slot + 10, y: top + height + 18, class: 'tick', 'text-anchor': 'middle', text: day.day.slice(5) }));
    });
    var totals = report.totals;
    var description = t('admin.js.chart_daily', { days: days.length, resets: totals.reset.started, resetsFailed: totals.reset.failed, unlocks: totals.unlock.started, unlocksFailed: totals.unlock.failed });
    var series = ['reset_completed', 'reset_failed', 'unlock_completed', 'unlock_failed'];
    return [
      el('p', { id: id + '-desc', class: 'chart-desc', text: description }),
      el('figure', { class: 'chart-figure' }, chart, legend(series.map(function (name) { return { id: name.replace('_', '-'), label: t('admin.js.' + name) }; }))),
      el('details', {}, el('summary', { text: t('admin.js.table') }), table(t('admin.js.table'), [t('admin.js.day')].concat(series.map(function (name) { return t('admin.js.' + name); })), days.map(function (day) {
        return [day.day, day.reset.completed, day.reset.failed, day.unlock.completed, day.unlock.failed];
      }), { 'data-chart': id })),
    ];
  }

  /** Horizontal stacked bars, one row per label; `series` names the segments in order. */
  function barChart(id, rows, series, columns, tableRows) {
    var max = 1;
    rows.forEach(function (row) {
      max = Math.max(max, row.values.reduce(function (sum, value) { return sum + value; }, 0), row.total || 0);
    });
    var rowHeight = 26;
    var labelWidth = 150;
    var barWidth = 300;
    var chart = svg('svg', { viewBox: '0 0 ' + (labelWidth + barWidth + 60) + ' ' + Math.max(rowHeight, rows.length * rowHeight + 6), class: 'chart chart-bars', role: 'img', 'aria-labelledby': id + '-title', 'aria-describedby': id + '-desc', focusable: 'false' });
    rows.forEach(function (row, index) {
      var y = index * rowHeight + 4;
      chart.append(svg('text', { x: labelWidth - 6, y: y + 14, class: 'tick', 'text-anchor': 'end', text: row.label.length > 22 ? row.label.slice(0, 21) + '…' : row.label }));
      if (row.total !== undefined) chart.append(svg('rect', { x: labelWidth, y: y, width: (row.total / max) * barWidth, height: 18, class: 'bar bar-total', 'data-label': row.label, 'data-series': 'total', 'data-value': row.total }));
      var x = labelWidth;
      row.values.forEach(function (value, position) {
        var width = (value / max) * barWidth;
        var rect = svg('rect', { x: x, y: y, width: width, height: 18, class: 'bar series-' + series[position].id, 'data-label': row.label, 'data-series': series[position].id, 'data-value': value });
        rect.append(svg('title', { text: row.label + ': ' + series[position].label + ' ' + value }));
        chart.append(rect);
        x += width;
      });
      chart.append(svg('text', { x: labelWidth + barWidth + 6, y: y + 14, class: 'tick', text: row.note }));
    });
    return [
      el('p', { id: id + '-desc', class: 'chart-desc', text: t('admin.js.chart_bars', { count: rows.length }) }),
      el('figure', { class: 'chart-figure' }, chart, legend(series)),
      el('details', {}, el('summary', { text: t('admin.js.table') }), table(t('admin.js.table'), columns, tableRows, { 'data-chart': id })),
    ];
  }

  function percent(value) {
    return value === null || value === undefined ? '–' : Math.round(value * 1000) / 10 + ' %';
  }

  function departmentName(name) {
    return name === null || name === undefined ? t('admin.js.no_department') : name;
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function loadDashboard() {
    if (may('reports:read')) {
      var now = new Date();
      var from = new Date(now.getTime() - 29 * 86400000);
      var to = new Date(now.getTime() + 86400000);
      api('GET', '/api/admin/reports/usage?' + query({ from: isoDay(from), to: isoDay(to) })).then(function (report) {
        fill('chart-daily', dailyChart('chart-daily', report));
        fill('chart-method', barChart('chart-method', report.byMethod.map(function (row) {
          return { label: row.method, values: [row.reset, row.unlock], note: String(row.reset + row.unlock) };
        }), [{ id: 'reset-completed', label: t('admin.js.resets') }, { id: 'unlock-completed', label: t('admin.js.unlocks') }], [t('admin.js.method'), t('admin.js.resets'), t('admin.js.unlocks')], report.byMethod.map(function (row) {
          return [row.method, row.reset, row.unlock];
        })));
        var departmentSeries = ['reset_completed', 'reset_failed', 'unlock_completed', 'unlock_failed'].map(function (name) { return { id: name.replace('_', '-'), label: t('admin.js.' + name) }; });
        fill('chart-department', barChart('chart-department', report.byDepartment.map(function (row) {
          return { label: departmentName(row.department), values: [row.reset.completed, row.reset.failed, row.unlock.completed, row.unlock.failed], note: String(row.reset.started + row.unlock.started) };
        }), departmentSeries, [t('admin.js.department')].concat(departmentSeries.map(function (item) { return item.label; })), report.byDepartment.map(function (row) {
          return [departmentName(row.department), row.reset.completed, row.reset.failed, row.unlock.completed, row.unlock.failed];
        })));
        var coverageSeries = [{ id: 'covered', label: t('admin.js.covered') }, { id: 'total', label: t('admin.js.eligible') }];
        var coverageColumns = function (first) { return [first, t('admin.js.eligible'), t('admin.js.covered'), t('admin.js.coverage')]; };
        fill('chart-coverage-department', barChart('chart-coverage-department', report.coverage.byDepartment.map(function (row) {
          return { label: departmentName(row.department), values: [row.covered], total: row.eligible, note: percent(row.coverage) };
        }), coverageSeries, coverageColumns(t('admin.js.department')), report.coverage.byDepartment.map(function (row) {
          return [departmentName(row.department), row.eligible, row.covered, percent(row.coverage)];
        })));
        fill('chart-coverage-tier', barChart('chart-coverage-tier', report.coverage.byTier.map(function (row) {
          return { label: row.tier, values: [row.covered], total: row.eligible, note: percent(row.coverage) };
        }), coverageSeries, coverageColumns(t('admin.js.tier')), report.coverage.byTier.map(function (row) {
          return [row.tier, row.eligible, row.covered, percent(row.coverage)];
        })));
      }).catch(showError);
    }
    if (may('alerts:read')) {
      api('GET', '/api/admin/alerts?' + query({ status: 'open', limit: 20 })).then(function (result) {
        fill('open-alerts', alertsTable(result.alerts));
      }).catch(showError);
    }
  }

  function alertsTable(alerts) {
    return table(t('admin.js.alert_list'), [t('admin.js.severity'), t('admin.js.status'), t('admin.js.summary'), t('admin.js.detector'), t('admin.js.last_seen')], alerts.map(function (alert) {
      return [alert.severity, alert.status, alert.summary, alert.detectorId, when(alert.lastSeenAt)];
    }), { 'data-table': 'alerts' });
  }

  // ---- accounts -----------------------------------------------------------------------------

  function searchAccounts(text) {
    return api('GET', '/api/admin/accounts?' + query({ query: text, limit: 50 })).then(function (result) {
      fill('accounts-results', table(t('admin.nav.accounts'), [t('admin.js.username'), t('admin.js.name'), t('admin.js.department'), t('admin.js.tier'), t('admin.js.locked'), t('admin.js.enabled')], result.accounts.map(function (account) {
        return [el('a', { href: '/admin/accounts/' + encodeURIComponent(account.id), text: account.username }), account.displayName || '', departmentName(account.department), account.tier, yesNo(account.locked), yesNo(account.enabled)];
      }), { 'data-table': 'accounts' }));
    }).catch(showError);
  }

  function field(id, label, input) {
    return el('div', { class: 'field' }, el('label', { for: id, text: label }), input);
  }

  function loadAccount() {
    var id = body.getAttribute('data-account-id');
    return api('GET', '/api/admin/accounts/' + encodeURIComponent(id)).then(function (result) {
      var account = result.account;
      var facts = [
        [t('admin.js.username'), account.username],
        [t('admin.js.name'), account.displayName || ''],
        [t('admin.js.department'), departmentName(account.department)],
        [t('admin.js.tier'), account.tier],
        [t('admin.js.locked'), account.locked ? t('admin.js.yes') + ' (' + when(account.lockedSince) + ')' : t('admin.js.no')],
        [t('admin.js.enabled'), yesNo(account.enabled)],
        [t('admin.js.groups'), account.groups.join(', ')],
        [t('admin.js.roles'), account.adminRoles.join(', ')],
      ];
      var parts = [el('h2', { text: account.username }), el('dl', { class: 'facts', id: 'account-facts' }, facts.map(function (fact) { return [el('dt', { text: fact[0] }), el('dd', { text: fact[1] })]; }))];
      if (may('accounts:write') && account.locked) {
        var unlockForm = el('form', { id: 'unlock-form', class: 'console-form action-form' },
          el('h3', { text: t('admin.js.unlock') }),
          field('unlock-reason', t('admin.js.unlock_reason'), el('input', { type: 'text', id: 'unlock-reason', name: 'reason', maxlength: '500', required: true })),
          el('button', { type: 'submit', class: 'button', text: t('admin.js.unlock') }));
        unlockForm.addEventListener('submit', function (event) {
          event.preventDefault();
          clearMessages();
          api('POST', '/api/admin/accounts/' + encodeURIComponent(account.id) + '/unlock', { reason: document.getElementById('unlock-reason').value }).then(function () {
            return loadAccount().then(function () { say(t('admin.js.unlocked')); });
          }).catch(showError);
        });
        parts.push(unlockForm);
      }
      parts.push(el('h3', { text: t('admin.js.enrollments') }));
      parts.push(table(t('admin.js.enrollments'), [t('admin.js.method'), t('admin.js.label'), t('admin.js.status'), t('admin.js.added'), t('admin.js.last_used')], account.enrollments.map(function (enrollment) {
        return [enrollment.method, enrollment.label || '', enrollment.status, when(enrollment.createdAt), when(enrollment.lastUsedAt)];
      }), { 'data-table': 'enrollments' }));
      if (may('accounts:write') && account.enrollments.length > 0) {
        var revokeForm = el('form', { id: 'revoke-form', class: 'console-form action-form' },
          el('h3', { text: t('admin.js.revoke') }),
          field('revoke-enrollment', t('admin.js.revoke_which'), el('select', { id: 'revoke-enrollment', name: 'enrollment' }, account.enrollments.map(function (enrollment) {
            return el('option', { value: enrollment.id, text: enrollment.method + (enrollment.label ? ' – ' + enrollment.label : '') });
          }))),
          field('revoke-reason', t('admin.js.revoke_reason'), el('input', { type: 'text', id: 'revoke-reason', name: 'reason', maxlength: '500', required: true })),
          el('button', { type: 'submit', class: 'button', text: t('admin.js.revoke_submit') }));
        revokeForm.addEventListener('submit', function (event) {
          event.preventDefault();
          clearMessages();
          var enrollment = document.getElementById('revoke-enrollment').value;
          api('POST', '/api/admin/accounts/' + encodeURIComponent(account.id) + '/methods/' + encodeURIComponent(enrollment) + '/revoke', { reason: document.getElementById('revoke-reason').value }).then(function () {
            return loadAccount().then(function () { say(t('admin.js.revoked')); });
          }).catch(showError);
        });
        parts.push(revokeForm);
      }
      parts.push(el('h3', { text: t('admin.js.recent_events') }));
      parts.push(table(t('admin.js.recent_events'), [t('admin.js.time'), t('admin.js.type'), t('admin.js.outcome'), t('admin.js.reason'), t('admin.js.actor'), t('admin.js.ip')], account.recentEvents.map(function (event) {
        return [when(event.at), event.type, event.outcome, event.reason || '', actorText(event.actor), event.ip || ''];
      }), { 'data-table': 'recent-events' }));
      fill('account-detail', parts);
    }).catch(showError);
  }

  // ---- audit --------------------------------------------------------------------------------

  var auditPages = [];

  function auditFilter() {
    var form = document.getElementById('audit-filter');
    var value = function (name) { return form.elements[name].value.trim(); };
    var instant = function (text) { return text ? (text.length === 16 ? text + ':00' : text) + 'Z' : ''; };
    return { since: instant(value('since')), until: instant(value('until')), subject: value('subject'), type: value('type'), outcome: value('outcome'), ip: value('ip') };
  }

  function loadAudit(after) {
    var filter = auditFilter();
    document.getElementById('download-csv').setAttribute('href', '/api/admin/audit?' + query(Object.assign({}, filter, { format: 'csv' })));
    document.getElementById('download-jsonl').setAttribute('href', '/api/admin/audit?' + query(Object.assign({}, filter, { format: 'jsonl' })));
    return api('GET', '/api/admin/audit?' + query(Object.assign({}, filter, { after: after, limit: 50 }))).then(function (result) {
      var pager = el('p', { class: 'pager' });
      if (auditPages.length > 1) {
        var previous = el('button', { type: 'button', class: 'button button-secondary', id: 'audit-previous', text: t('admin.js.previous') });
        previous.addEventListener('click', function () { auditPages.pop(); loadAudit(auditPages[auditPages.length - 1]); });
        pager.append(previous);
      }
      if (result.nextAfter !== null) {
        var next = el('button', { type: 'button', class: 'button button-secondary', id: 'audit-next', text: t('admin.js.next') });
        next.addEventListener('click', function () { auditPages.push(result.nextAfter); loadAudit(result.nextAfter); });
        pager.append(next);
      }
      fill('audit-results', [table(t('admin.nav.audit'), ['#', t('admin.js.time'), t('admin.js.type'), t('admin.js.outcome'), t('admin.js.reason'), t('admin.js.actor'), t('admin.js.subject'), t('admin.js.ip')], result.events.map(function (event) {
        return [event.seq, when(event.at), event.type, event.outcome, event.reason || '', actorText(event.actor), event.subject || '', event.ip || ''];
      }), { 'data-table': 'audit' }), pager]);
    }).catch(showError);
  }

  // ---- policy -------------------------------------------------------------------------------

  function simulationView(simulation) {
    var summary = t('admin.js.simulation', { before: simulation.recoverableBefore, after: simulation.recoverableAfter, stranded: simulation.stranded.length, added: simulation.pathsAdded.length, removed: simulation.pathsRemoved.length });
    return el('div', { class: 'simulation', id: 'simulation' }, el('p', { text: summary }), simulation.stranded.length ? [el('p', { text: t('admin.js.stranded_list') }), el('ul', {}, simulation.stranded.map(function (account) {
      return el('li', { text: [account.username || account.accountId || account.id, account.reason || (account.reasons || []).join(', ')].filter(Boolean).join(': ') });
    }))] : null);
  }

  function loadPolicy() {
    api('GET', '/api/admin/policy').then(function (result) {
      var messagesList = (result.messages || []).map(function (message) { return el('li', { text: typeof message === 'string' ? message : JSON.stringify(message) }); });
      fill('policy-current', [
        el('p', { id: 'policy-version', text: t('admin.js.version', { version: result.version.version }) + ' · ' + when(result.version.createdAt) }),
        result.valid ? el('p', { class: 'notice notice-ok', id: 'policy-valid', text: t('admin.js.valid') }) : [el('p', { class: 'notice', text: t('admin.js.invalid') }), el('ul', { id: 'policy-messages' }, messagesList)],
        el('details', {}, el('summary', { text: t('admin.policy.text') }), el('pre', { class: 'code', id: 'policy-document', tabindex: '0', text: result.text })),
      ]);
      var editor = document.getElementById('policy-text');
      if (editor && editor.value === '') editor.value = result.text;
    }).catch(showError);
    loadPolicyHistory();
  }

  function loadPolicyHistory() {
    api('GET', '/api/admin/policy/versions').then(function (result) {
      fill('policy-history', [table(t('admin.policy.history'), [t('admin.js.version', { version: '' }).trim(), t('admin.js.when'), t('admin.js.who'), t('admin.js.why'), t('admin.js.changes')], result.versions.map(function (version) {
        // The visible "+a −r" stays part of the button's name; the hidden words say what it does.
        var show = el('button', { type: 'button', class: 'link-button', 'data-version': version.version }, '+' + version.linesAdded + ' −' + version.linesRemoved, el('span', { class: 'visually-hidden', text: ' – ' + t('admin.js.show_diff', { version: version.version }) }));
        show.addEventListener('click', function () {
          api('GET', '/api/admin/policy/versions/' + version.version).then(function (detail) {
            var diff = document.getElementById('policy-diff');
            diff.hidden = false;
            diff.replaceChildren(el('h3', { text: t('admin.js.version', { version: version.version }) }), el('pre', { class: 'code diff', tabindex: '0', text: detail.version.diff || '' }));
          }).catch(showError);
        });
        return [version.version, when(version.createdAt), actorText(version.actor), version.reason || '', show];
      }), { 'data-table': 'policy-versions' }), el('div', { id: 'policy-diff', hidden: true })]);
    }).catch(showError);
  }

  function setUpPolicyEditor() {
    var form = document.getElementById('policy-editor');
    if (!form) return;
    document.getElementById('policy-simulate').addEventListener('click', function () {
      clearMessages();
      api('POST', '/api/admin/policy/simulate', { text: document.getElementById('policy-text').value }).then(function (result) {
        fill('policy-result', simulationView(result.simulation));
      }).catch(showError);
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      clearMessages();
      api('PUT', '/api/admin/policy', { text: document.getElementById('policy-text').value, reason: document.getElementById('policy-reason').value, force: false }).then(function (result) {
        fill('policy-result', [el('p', { class: 'notice notice-ok', text: t('admin.js.published', { version: result.version.version }) }), simulationView(result.simulation)]);
        say(t('admin.js.published', { version: result.version.version }));
        loadPolicy();
      }).catch(function (error) {
        showError(error);
        if (error.problem && error.problem.simulation) fill('policy-result', simulationView(error.problem.simulation));
      });
    });
  }

  // ---- alerts -------------------------------------------------------------------------------

  function loadAlerts() {
    var status = document.getElementById('alert-status').value;
    return api('GET', '/api/admin/alerts?' + query({ status: status, limit: 100 })).then(function (result) {
      var parts = [alertsTable(result.alerts)];
      var open = result.alerts.filter(function (alert) { return alert.status !== 'resolved'; });
      if (may('alerts:write') && open.length > 0) {
        var form = el('form', { id: 'alert-action', class: 'console-form action-form' },
          el('h2', { text: t('admin.js.alert_action') }),
          field('alert-id', t('admin.js.alert_which'), el('select', { id: 'alert-id', name: 'alert' }, open.map(function (alert) {
            return el('option', { value: alert.id, text: alert.severity + ' · ' + alert.summary });
          }))),
          el('fieldset', { class: 'field' }, el('legend', { text: t('admin.js.action') }),
            el('div', { class: 'radio' }, el('input', { type: 'radio', id: 'alert-acknowledge', name: 'action', value: 'acknowledge', checked: true }), el('label', { for: 'alert-acknowledge', text: t('admin.js.acknowledge') })),
            el('div', { class: 'radio' }, el('input', { type: 'radio', id: 'alert-resolve', name: 'action', value: 'resolve' }), el('label', { for: 'alert-resolve', text: t('admin.js.resolve') }))),
          field('alert-reason', t('admin.js.alert_reason'), el('input', { type: 'text', id: 'alert-reason', name: 'reason', maxlength: '500', required: true })),
          el('button', { type: 'submit', class: 'button', text: t('admin.js.alert_action') }));
        form.addEventListener('submit', function (event) {
          event.preventDefault();
          clearMessages();
          var action = form.elements.action.value;
          api('POST', '/api/admin/alerts/' + encodeURIComponent(form.elements.alert.value) + '/' + action, { reason: document.getElementById('alert-reason').value }).then(function (done) {
            return loadAlerts().then(function () { say(t('admin.js.alert_done', { status: done.alert.status })); });
          }).catch(showError);
        });
        parts.push(form);
      }
      fill('alerts-results', parts);
    }).catch(showError);
  }

  // ---- outbox -------------------------------------------------------------------------------

  function loadOutbox() {
    api('GET', '/api/admin/outbox?limit=100').then(function (result) {
      fill('outbox-results', table(t('admin.nav.outbox'), [t('admin.js.sent'), t('admin.js.channel'), t('admin.js.to'), t('admin.js.subject_line'), t('admin.js.text')], result.messages.map(function (message) {
        return [when(message.createdAt), message.channel, message.to || message.recipient, message.subject || '', message.text === null ? t('admin.js.hidden') : el('span', { class: 'message-text', text: message.text })];
      }), { 'data-table': 'outbox' }));
    }).catch(showError);
  }

  // ---- sign-in and sign-out -----------------------------------------------------------------

  function setUpSignIn() {
    var passwordForm = document.getElementById('sign-in-password');
    var codeForm = document.getElementById('sign-in-code');
    var passkeyBox = document.getElementById('sign-in-passkey');
    var passkeyButton = document.getElementById('passkey-button');
    // @simplewebauthn/browser, served by this server (/vendor/simplewebauthn-browser.js) before this script.
    var webauthn = window.SimpleWebAuthnBrowser;
    var passkeysWork = Boolean(webauthn && webauthn.browserSupportsWebAuthn());
    var pendingToken = null;

    /** A refusal of the second step: tries left for a wrong answer, back to the password when the pending sign-in ended. */
    function secondFactorFailed(error, wrongKey) {
      if (error.problem && typeof error.problem.attemptsLeft === 'number') {
        error.problem = Object.assign({}, error.problem, { code: null, detail: t(wrongKey, { count: error.problem.attemptsLeft }) });
        error.message = error.problem.detail;
      } else if (error.status === 401) {
        // The pending sign-in ended (too many tries, or it expired): start again with the password.
        pendingToken = null;
        codeForm.hidden = true;
        passkeyBox.hidden = true;
        passwordForm.hidden = false;
      }
      showError(error);
    }

    passwordForm.addEventListener('submit', function (event) {
      event.preventDefault();
      clearMessages();
      api('POST', '/api/admin/session', { username: passwordForm.elements.username.value.trim(), password: passwordForm.elements.password.value }).then(function (result) {
        var methods = Array.isArray(result.methods) ? result.methods : [result.secondFactor || 'totp'];
        var passkey = methods.indexOf('webauthn') !== -1;
        var code = methods.indexOf('totp') !== -1;
        pendingToken = result.pendingToken;
        passwordForm.elements.password.value = '';
        passwordForm.hidden = true;
        passkeyBox.hidden = !passkey;
        document.getElementById('passkey-or').hidden = !(passkey && code);
        codeForm.hidden = !code;
        if (passkey && !passkeysWork) {
          passkeyButton.disabled = true;
          if (!code) showError({ problem: {}, message: t('admin.js.passkey_unsupported') });
        }
        if (passkey && passkeysWork) passkeyButton.focus();
        else if (code) document.getElementById('code').focus();
      }).catch(showError);
    });

    passkeyButton.addEventListener('click', function () {
      clearMessages();
      passkeyButton.disabled = true;
      var ceremonyFailed = false;
      api('POST', '/api/admin/session/passkey', { pendingToken: pendingToken }).then(function (options) {
        return webauthn.startAuthentication({ optionsJSON: options.publicKey }).then(function (credential) {
          return api('POST', '/api/admin/session/second-factor', { pendingToken: pendingToken, challengeId: options.challengeId, credential: credential });
        }, function () {
          // Cancelled, timed out, or no passkey on this device for the account: nothing reached the server.
          ceremonyFailed = true;
          throw { problem: {}, message: t('admin.js.passkey_failed') };
        });
      }).then(function () {
        window.location.assign('/admin/dashboard');
      }).catch(function (error) {
        passkeyButton.disabled = false;
        if (ceremonyFailed) showError(error);
        else secondFactorFailed(error, 'admin.js.wrong_passkey');
      });
    });

    codeForm.addEventListener('submit', function (event) {
      event.preventDefault();
      clearMessages();
      api('POST', '/api/admin/session/second-factor', { pendingToken: pendingToken, code: codeForm.elements.code.value.trim() }).then(function () {
        window.location.assign('/admin/dashboard');
      }).catch(function (error) {
        codeForm.elements.code.value = '';
        secondFactorFailed(error, 'admin.js.wrong_code');
      });
    });
  }

  var signOut = document.getElementById('sign-out');
  if (signOut) {
    signOut.addEventListener('click', function () {
      api('DELETE', '/api/admin/session').then(function () {
        window.location.assign('/admin/sign-in?reason=signed_out');
      }).catch(showError);
    });
  }

  // ---- shared with section scripts ----------------------------------------------------------

  // A section with its own script (admin-governance.js, loaded after this one) builds its views with
  // these same helpers rather than keeping copies that could drift (escaping, CSRF, 401 handling).
  window.LatchkeyConsole = Object.freeze({ el: el, fill: fill, table: table, field: field, when: when, yesNo: yesNo, api: api, showError: showError, clearMessages: clearMessages, say: say, may: may, t: t, query: query });

  // ---- page wiring --------------------------------------------------------------------------

  function onSubmit(id, handler) {
    var form = document.getElementById(id);
    if (!form) return;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      clearMessages();
      handler(form);
    });
  }

  if (page === 'sign-in') setUpSignIn();
  if (page === 'dashboard') loadDashboard();
  if (page === 'accounts') {
    onSubmit('account-search', function (form) { searchAccounts(form.elements.query.value.trim()); });
    searchAccounts('');
  }
  if (page === 'account') loadAccount();
  if (page === 'audit') {
    onSubmit('audit-filter', function () { auditPages = [undefined]; loadAudit(undefined); });
    auditPages = [undefined];
    loadAudit(undefined);
  }
  if (page === 'policy') {
    loadPolicy();
    setUpPolicyEditor();
  }
  if (page === 'alerts') {
    onSubmit('alerts-filter', function () { loadAlerts(); });
    loadAlerts();
  }
  if (page === 'outbox') loadOutbox();
})();
