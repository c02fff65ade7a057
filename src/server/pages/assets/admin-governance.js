// The console's governance sections: recovery paths and findings, break-glass accounts, privileged
// holds. Loaded after admin.js on these pages only, and built on its helpers (window.LatchkeyConsole):
// data from /api/admin/* with the session cookie, changes with the CSRF header, DOM built with
// textContent, never innerHTML.
(function () {
  'use strict';

  var c = window.LatchkeyConsole;
  if (!c) return;
  var el = c.el;
  var t = c.t;
  var body = document.body;
  var page = body.getAttribute('data-page');

  function severity(level) {
    return el('span', { class: 'severity severity-' + level, 'data-severity': level, text: t('admin.gov.severity.' + level) });
  }

  function findingList(findings) {
    if (findings.length === 0) return t('admin.gov.none');
    return el('ul', { class: 'findings' }, findings.map(function (finding) {
      return el('li', { 'data-finding': finding.code }, severity(finding.severity), ' ', finding.message);
    }));
  }

  // ---- recovery paths -----------------------------------------------------------------------

  function tierView(tier) {
    var facts = el('dl', { class: 'facts' },
      el('dt', { text: t('admin.gov.paths.self_service') }), el('dd', { text: c.yesNo(tier.selfService) }),
      el('dt', { text: t('admin.gov.paths.gates') }), el('dd', { text: String(tier.gatesRequired) }),
      el('dt', { text: t('admin.gov.paths.require_one_of') }), el('dd', { text: tier.requireOneOf.join(', ') || '–' }),
      el('dt', { text: t('admin.gov.paths.allowed') }), el('dd', { text: tier.allowedMethods.join(', ') || '–' }));
    var caption = t('admin.gov.paths.table', { tier: tier.tier });
    var rows = tier.paths.map(function (path) {
      return [path.methods.join(' + '), path.weakest, path.strongest, findingList(path.findings)];
    });
    if (tier.helpdesk) {
      rows.push([t('admin.gov.paths.helpdesk', { issuer: tier.helpdesk.issuer }), '–', '–', findingList(tier.helpdesk.findings)]);
    }
    return el('section', { class: 'tier', 'data-tier': tier.tier, 'aria-labelledby': 'tier-' + tier.tier },
      el('h3', { id: 'tier-' + tier.tier, text: t('admin.gov.paths.tier', { tier: tier.tier }) }),
      facts,
      tier.findings.length ? [el('h4', { text: t('admin.gov.paths.tier_findings') }), findingList(tier.findings)] : null,
      rows.length === 0
        ? el('p', { class: 'empty', 'data-table': 'paths-' + tier.tier, text: t('admin.gov.paths.no_paths') })
        : c.table(caption, [t('admin.gov.paths.methods'), t('admin.gov.paths.weakest'), t('admin.gov.paths.strongest'), t('admin.gov.paths.findings')], rows, { 'data-table': 'paths-' + tier.tier }));
  }

  function loadRecoveryPaths() {
    c.api('GET', '/api/admin/policy/paths').then(function (result) {
      document.getElementById('paths-version').textContent = t('admin.gov.paths.version', { version: result.version, count: result.findingCount });
      c.fill('paths-results', result.tiers.map(tierView));
    }).catch(c.showError);
    c.api('GET', '/api/admin/policy/findings').then(function (result) {
      c.fill('account-findings', c.table(t('admin.gov.paths.account_findings'), [t('admin.gov.paths.severity'), t('admin.gov.paths.finding'), t('admin.gov.paths.accounts'), t('admin.gov.paths.methods')], result.findings.map(function (finding) {
        return [severity(finding.severity), el('span', { 'data-finding': finding.code, text: finding.message }), finding.accounts.map(function (account) { return account.username + ' (' + account.tier + ')'; }).join(', '), finding.methods.join(', ')];
      }), { 'data-table': 'account-findings' }));
    }).catch(c.showError);
  }

  // ---- break-glass --------------------------------------------------------------------------

  function loadBreakGlassStatus() {
    return c.api('GET', '/api/admin/breakglass/status').then(function (result) {
      c.fill('breakglass-status', c.table(t('admin.gov.bg.status'), [t('admin.gov.bg.account'), t('admin.gov.bg.state'), t('admin.gov.bg.custodians'), t('admin.gov.bg.threshold'), t('admin.gov.bg.last_drill'), t('admin.gov.bg.next_drill'), t('admin.gov.bg.flags')], result.accounts.map(function (account) {
        var flags = [];
        if (account.drillOverdue) flags.push(el('strong', { class: 'flag-overdue', 'data-flag': 'drill_overdue', text: t('admin.gov.bg.overdue') }));
        if (account.sharesPending) flags.push(el('span', { 'data-flag': 'shares_pending', text: t('admin.gov.bg.shares_pending') }));
        account.watch.forEach(function (finding) { flags.push(el('span', { 'data-flag': finding, text: finding })); });
        return [account.username, t('admin.gov.bg.state.' + account.status), account.custodians.join(', '), account.threshold === null ? '–' : String(account.threshold), account.lastDrillAt ? c.when(account.lastDrillAt) : t('admin.gov.bg.never'), account.nextDrillDue ? c.when(account.nextDrillDue) : '–', flags.length ? el('span', { class: 'flags' }, flags.map(function (flag, index) { return index ? [', ', flag] : flag; })) : '–'];
      }), { 'data-table': 'breakglass-status' }));
    }).catch(c.showError);
  }

  /** The password rebuilt by the last share: shown once, only in this page's memory; gone on reload. */
  function revealView(password) {
    var value = el('code', { id: 'breakglass-password', class: 'secret', text: password });
    var copy = el('button', { type: 'button', class: 'button', id: 'breakglass-copy', text: t('admin.gov.bg.copy') });
    var done = el('button', { type: 'button', class: 'button button-secondary', id: 'breakglass-hide', text: t('admin.gov.bg.hide') });
    var view = el('section', { class: 'reveal', id: 'breakglass-reveal', 'aria-labelledby': 'breakglass-revealed-title' },
      el('h3', { id: 'breakglass-revealed-title', text: t('admin.gov.bg.revealed') }),
      el('p', { class: 'notice warning', text: t('admin.gov.bg.revealed.warning') }),
      el('p', {}, value),
      el('p', {}, copy, ' ', done));
    copy.addEventListener('click', function () {
      navigator.clipboard.writeText(value.textContent).then(function () { c.say(t('admin.gov.bg.copied')); }, function () { c.say(t('admin.gov.bg.copy_failed')); });
    });
    done.addEventListener('click', function () {
      view.remove();
      c.say(t('admin.gov.bg.hidden'));
    });
    return view;
  }

  function progressText(opening) {
    var missing = Math.max(0, opening.threshold - opening.received);
    return t('admin.gov.bg.progress', { received: opening.received, threshold: opening.threshold, missing: missing });
  }

  /** The share form of one opening; a share is typed into a password field, sent in a request body and cleared whatever the answer. */
  function openingView(opening, password) {
    var link = window.location.origin + '/admin/break-glass?opening=' + encodeURIComponent(opening.id);
    var parts = [
      el('h3', { text: t('admin.gov.bg.opening', { account: opening.account }) }),
      el('dl', { class: 'facts' },
        el('dt', { text: t('admin.gov.bg.opening_id') }), el('dd', {}, el('code', { id: 'breakglass-opening-id', text: opening.id })),
        el('dt', { text: t('admin.gov.bg.link') }), el('dd', {}, el('code', { text: link })),
        el('dt', { text: t('admin.gov.bg.from') }), el('dd', { text: opening.sharesFrom.join(', ') || '–' }),
        opening.expiresAt ? [el('dt', { text: t('admin.gov.bg.expires') }), el('dd', { text: c.when(opening.expiresAt) })] : null),
      el('p', { id: 'breakglass-progress', class: 'notice notice-info', role: 'status', 'data-received': opening.received, 'data-threshold': opening.threshold, text: opening.status === 'completed' ? t('admin.gov.bg.completed') : progressText(opening) }),
    ];
    if (password) parts.push(revealView(password));
    if (opening.status === 'collecting') {
      var form = el('form', { id: 'breakglass-share', class: 'console-form', method: 'post', novalidate: true },
        el('div', { class: 'field' },
          el('label', { for: 'breakglass-share-input', text: t('admin.gov.bg.share') }),
          el('p', { class: 'hint', id: 'breakglass-share-hint', text: t('admin.gov.bg.share.hint') }),
          // SECURITY: a password field, never echoed, never autofilled or remembered; the share leaves only in a POST body.
          el('input', { type: 'password', id: 'breakglass-share-input', name: 'share', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', maxlength: '400', 'aria-describedby': 'breakglass-share-hint', required: true })),
        el('button', { type: 'submit', class: 'button', text: t('admin.gov.bg.share.submit') }));
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        c.clearMessages();
        var input = document.getElementById('breakglass-share-input');
        var share = input.value;
        input.value = '';
        c.api('POST', '/api/admin/breakglass/openings/' + encodeURIComponent(opening.id) + '/shares', { share: share }).then(function (result) {
          c.fill('breakglass-opening-view', openingView(result.opening, result.password || null));
          var focus = document.getElementById(result.password ? 'breakglass-reveal' : 'breakglass-progress');
          if (focus) { focus.setAttribute('tabindex', '-1'); focus.focus(); }
          if (result.password) loadBreakGlassStatus();
          c.say(result.password ? t('admin.gov.bg.completed') : progressText(result.opening));
        }).catch(c.showError);
        share = '';
      });
      parts.push(form);
    }
    return el('div', { id: 'breakglass-opening', 'data-opening': opening.id, 'data-status': opening.status }, parts);
  }

  function setUpBreakGlass() {
    loadBreakGlassStatus();
    var start = document.getElementById('breakglass-start');
    if (!start) return;
    start.addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      c.api('POST', '/api/admin/breakglass/openings', { account: start.elements.account.value.trim(), reason: start.elements.reason.value.trim() }).then(function (result) {
        start.reset();
        c.fill('breakglass-opening-view', openingView(result.opening, null));
        document.getElementById('breakglass-share-input').focus();
        c.say(progressText(result.opening));
      }).catch(c.showError);
    });
    var join = document.getElementById('breakglass-join');
    function joinOpening(id) {
      // The API has no read of an opening: progress arrives with each share, so the form starts from "0 received".
      c.fill('breakglass-opening-view', openingView({ id: id, account: '', threshold: 0, received: 0, sharesFrom: [], status: 'collecting', expiresAt: null }, null));
      document.getElementById('breakglass-progress').textContent = t('admin.gov.bg.joined');
    }
    join.addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      var id = join.elements.opening.value.trim();
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
        c.showError({ problem: { detail: t('admin.gov.bg.join.invalid') }, message: t('admin.gov.bg.join.invalid') });
        return;
      }
      joinOpening(id);
      document.getElementById('breakglass-share-input').focus();
    });
    var fromLink = body.getAttribute('data-opening');
    if (fromLink) {
      join.elements.opening.value = fromLink;
      joinOpening(fromLink);
    }
  }

  // ---- privileged holds ---------------------------------------------------------------------

  var usernames = {};

  function username(accountId) {
    if (Object.prototype.hasOwnProperty.call(usernames, accountId)) return Promise.resolve(usernames[accountId]);
    return c.api('GET', '/api/admin/accounts/' + encodeURIComponent(accountId)).then(function (result) {
      usernames[accountId] = result.account.username;
      return usernames[accountId];
    }, function () { return accountId; });
  }

  function loadHolds() {
    var status = document.getElementById('hold-status').value;
    return c.api('GET', '/api/admin/privileged-holds?' + c.query({ status: status, limit: 100 })).then(function (result) {
      return Promise.all(result.holds.map(function (hold) { return username(hold.accountId); })).then(function (names) {
        var parts = [c.table(t('admin.gov.holds.table'), [t('admin.gov.bg.account'), t('admin.gov.holds.purpose'), t('admin.gov.holds.status'), t('admin.gov.holds.created'), t('admin.gov.holds.deadline'), t('admin.gov.holds.resolved')], result.holds.map(function (hold, index) {
          var overdue = hold.status === 'unconfirmed' || (hold.status === 'held' && new Date(hold.deadlineAt).getTime() < Date.now());
          return [el('a', { href: '/admin/accounts/' + encodeURIComponent(hold.accountId), text: names[index] }), t('admin.gov.holds.purpose.' + hold.purpose), el('span', { 'data-status': hold.status, text: t('admin.gov.holds.status.' + hold.status) }), c.when(hold.createdAt), overdue ? el('strong', { class: 'flag-overdue', text: c.when(hold.deadlineAt) + ' · ' + t('admin.gov.holds.missed') }) : c.when(hold.deadlineAt), hold.resolvedAt ? c.when(hold.resolvedAt) + (hold.resolvedBy ? ' · ' + hold.resolvedBy : '') : '–'];
        }), { 'data-table': 'holds' })];
        var open = result.holds.filter(function (hold) { return hold.status !== 'confirmed'; });
        if (c.may('privileged:confirm') && open.length > 0) {
          var form = el('form', { id: 'hold-confirm', class: 'console-form action-form', method: 'post', novalidate: true },
            el('h2', { text: t('admin.gov.holds.confirm') }),
            el('p', { text: t('admin.gov.holds.confirm.intro') }),
            c.field('hold-id', t('admin.gov.holds.which'), el('select', { id: 'hold-id', name: 'hold' }, open.map(function (hold) {
              return el('option', { value: hold.id, text: usernames[hold.accountId] + ' · ' + t('admin.gov.holds.purpose.' + hold.purpose) + ' · ' + c.when(hold.createdAt) });
            }))),
            c.field('hold-reason', t('admin.gov.holds.reason'), el('input', { type: 'text', id: 'hold-reason', name: 'reason', maxlength: '500', required: true })),
            el('button', { type: 'submit', class: 'button', text: t('admin.gov.holds.confirm.submit') }));
          form.addEventListener('submit', function (event) {
            event.preventDefault();
            c.clearMessages();
            c.api('POST', '/api/admin/privileged-holds/' + encodeURIComponent(form.elements.hold.value) + '/confirm', { reason: document.getElementById('hold-reason').value.trim() }).then(function (done) {
              return loadHolds().then(function () { c.say(t('admin.gov.holds.confirmed', { account: usernames[done.hold.accountId] || done.hold.accountId })); });
            }).catch(c.showError);
          });
          parts.push(form);
        }
        c.fill('holds-results', parts);
      });
    }).catch(c.showError);
  }

  function setUpHolds() {
    var select = document.getElementById('hold-status');
    select.value = body.getAttribute('data-status') || '';
    document.getElementById('holds-filter').addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      loadHolds();
    });
    loadHolds();
  }

  if (page === 'recovery-paths') loadRecoveryPaths();
  if (page === 'break-glass') setUpBreakGlass();
  if (page === 'privileged-holds') setUpHolds();
})();
