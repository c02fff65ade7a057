// The console's helpdesk and day-one pages. Loaded after admin.js, whose helpers (DOM building with
// textContent, the API call with the CSRF header and 401 handling, error display) it uses, so both
// scripts escape and authenticate the same way. The helpdesk API is the real guard: this script only
// draws what it answers. A pass lives in this script's memory after the issuing POST and nowhere
// else: a reload or another page loses it for good.
(function () {
  'use strict';

  var c = window.LatchkeyConsole;
  if (!c) return;
  var el = c.el;
  var t = c.t;
  var page = document.body.getAttribute('data-page');
  var APPROVAL_POLL_MS = 3000;

  function onSubmit(id, handler) {
    var form = document.getElementById(id);
    if (!form) return;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      handler(form);
    });
  }

  function show(id, visible) {
    var node = document.getElementById(id);
    if (node) node.hidden = !visible;
  }

  // ---- helpdesk page ------------------------------------------------------------------------

  var current = null;
  var approvalTimer = null;

  function stopPolling() {
    if (approvalTimer !== null) window.clearInterval(approvalTimer);
    approvalTimer = null;
  }

  function forgetPass() {
    var value = document.getElementById('pass-value');
    if (value) value.replaceChildren();
    show('pass-shown', false);
  }

  /** Splits a pass into its groups of four for reading out (the API shows XXXX-XXXX-XXXX-XXXX). */
  function passGroups(pass) {
    var compact = String(pass).replace(/[^0-9A-Za-z]/g, '');
    var groups = [];
    for (var i = 0; i < compact.length; i += 4) groups.push(compact.slice(i, i + 4));
    return groups;
  }

  function refusalText(rule) {
    var key = 'admin.helpdesk.refusal.' + rule;
    return t('admin.helpdesk.refused', { rule: t(key) === key ? rule : t(key) });
  }

  function attemptsView(attempts) {
    if (attempts.length === 0) return el('p', { class: 'empty', id: 'attempts-none', text: t('admin.helpdesk.attempts.none') });
    return c.table(t('admin.helpdesk.attempts'), [t('admin.js.time'), t('admin.helpdesk.purpose'), t('admin.helpdesk.gates'), t('admin.helpdesk.ending')], attempts.map(function (attempt) {
      var gates = attempt.gates.length === 0
        ? t('admin.helpdesk.no_gates')
        : el('ul', { class: 'plain-list' }, attempt.gates.map(function (gate) {
          return el('li', { 'data-gate': gate.method, 'data-outcome': gate.outcome, text: t('admin.helpdesk.gate', { method: gate.method, outcome: gate.outcome }) });
        }));
      return [c.when(attempt.startedAt), attempt.purpose, gates, attempt.ending];
    }), { 'data-table': 'attempts' });
  }

  function personView(view) {
    var account = view.account;
    var facts = [
      [t('admin.js.username'), account.username],
      [t('admin.js.name'), account.displayName],
      [t('admin.js.department'), account.department || t('admin.js.no_department')],
      [t('admin.js.tier'), account.tier],
      [t('admin.js.enabled'), c.yesNo(account.enabled)],
    ];
    var parts = [
      el('h2', { id: 'person-title', text: account.username }),
      el('dl', { class: 'facts', id: 'person-facts' }, facts.map(function (fact) { return [el('dt', { text: fact[0] }), el('dd', { text: fact[1] })]; })),
    ];
    if (view.issueRefusal) parts.push(el('p', { class: 'error-summary', id: 'helpdesk-refusal', role: 'alert', text: refusalText(view.issueRefusal) }));
    parts.push(el('h3', { text: t('admin.helpdesk.methods') }));
    parts.push(c.table(t('admin.helpdesk.methods'), [t('admin.js.method'), t('admin.js.label'), t('admin.js.status'), t('admin.js.last_used')], view.methods.map(function (method) {
      return [method.method, method.label, method.status, c.when(method.lastUsedAt)];
    }), { 'data-table': 'methods' }));
    parts.push(el('h3', { text: t('admin.helpdesk.attempts') }));
    parts.push(attemptsView(view.recentAttempts));
    if (view.livePass) parts.push(livePassView(view));
    return parts;
  }

  function livePassView(view) {
    var pass = view.livePass;
    var form = el('form', { id: 'revoke-pass', class: 'console-form action-form', novalidate: true },
      el('h3', { text: t('admin.helpdesk.revoke') }),
      c.field('revoke-pass-reason', t('admin.helpdesk.revoke.reason'), el('input', { type: 'text', id: 'revoke-pass-reason', name: 'reason', minlength: '3', maxlength: '200', required: true })),
      el('button', { type: 'submit', class: 'button', text: t('admin.helpdesk.revoke.submit') }));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      c.api('POST', '/api/admin/helpdesk/passes/revoke', { accountId: view.account.id, reason: document.getElementById('revoke-pass-reason').value.trim() }).then(function () {
        forgetPass();
        return lookUp(view.account.username).then(function () { c.say(t('admin.helpdesk.revoked')); });
      }).catch(c.showError);
    });
    return el('div', { id: 'live-pass' }, el('p', { class: 'notice notice-info', text: t('admin.helpdesk.live_pass', { from: c.when(pass.validFrom), until: c.when(pass.expiresAt), uses: pass.uses, max: pass.maxUses }) }), form);
  }

  /** The verification choices the policy allows for this person, each with the fields it needs. */
  function verificationView(view) {
    var methods = view.verificationMethods;
    if (methods.length === 0) return el('p', { text: t('admin.helpdesk.verify.none') });
    var codeTargets = view.methods.filter(function (method) { return method.codeVerification; });
    var select = el('select', { id: 'verify-method', name: 'method' }, methods.map(function (method) {
      return el('option', { value: method, text: t('admin.helpdesk.verify.' + method) });
    }));
    var codeField = codeTargets.length
      ? c.field('verify-enrollment', t('admin.helpdesk.code.method'), el('select', { id: 'verify-enrollment', name: 'enrollmentId' }, codeTargets.map(function (method) {
        return el('option', { value: method.id, text: method.method + ' · ' + method.label });
      })))
      : el('p', { text: t('admin.helpdesk.code.none') });
    var codeBox = el('div', { id: 'verify-fields-method_code' }, codeField);
    var oobBox = el('div', { id: 'verify-fields-out_of_band' },
      c.field('verify-reason', t('admin.helpdesk.oob.reason'), el('input', { type: 'text', id: 'verify-reason', name: 'reason', minlength: '10', maxlength: '500' })),
      c.field('verify-ticket', t('admin.helpdesk.oob.ticket'), el('input', { type: 'text', id: 'verify-ticket', name: 'ticket', maxlength: '100' })));
    var submit = el('button', { type: 'submit', class: 'button', id: 'verify-start' });
    var form = el('form', { id: 'verify-form', class: 'console-form', novalidate: true }, c.field('verify-method', t('admin.helpdesk.verify.how'), select), codeBox, oobBox, submit);
    var sync = function () {
      codeBox.hidden = select.value !== 'method_code';
      oobBox.hidden = select.value !== 'out_of_band';
      submit.textContent = t(select.value === 'method_code' ? 'admin.helpdesk.code.send' : select.value === 'manager_approval' ? 'admin.helpdesk.approval.request' : 'admin.helpdesk.oob.record');
    };
    select.addEventListener('change', sync);
    sync();
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      startVerification(view, select.value);
    });
    return [form, el('div', { id: 'verification-step', 'aria-live': 'polite' })];
  }

  function startVerification(view, method) {
    var payload = { accountId: view.account.id, method: method };
    if (method === 'method_code') {
      var target = document.getElementById('verify-enrollment');
      if (target) payload.enrollmentId = target.value;
    }
    if (method === 'out_of_band') {
      payload.reason = document.getElementById('verify-reason').value.trim();
      var ticket = document.getElementById('verify-ticket').value.trim();
      if (ticket) payload.ticket = ticket;
    }
    stopPolling();
    c.api('POST', '/api/admin/helpdesk/verifications', payload).then(function (result) {
      var verification = result.verification;
      current.verificationId = verification.id;
      if (verification.status === 'verified') return verified();
      if (method === 'method_code') return codeStep(view, verification, result.challenge);
      return approvalStep(verification);
    }).catch(c.showError);
  }

  function codeStep(view, verification, challenge) {
    var target = view.methods.filter(function (method) { return method.id === (document.getElementById('verify-enrollment') || {}).value; })[0];
    var input = el('input', { type: 'text', id: 'verify-code', name: 'code', class: 'code-input', inputmode: 'numeric', autocomplete: 'off', maxlength: challenge && challenge.codeLength ? String(challenge.codeLength) : '32', required: true });
    var form = el('form', { id: 'verify-code-form', class: 'console-form inline-form', novalidate: true },
      c.field('verify-code', t('admin.helpdesk.code.entry'), input),
      el('button', { type: 'submit', class: 'button', text: t('admin.helpdesk.code.check') }));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      c.clearMessages();
      c.api('POST', '/api/admin/helpdesk/verifications/' + encodeURIComponent(verification.id) + '/code', { code: input.value.trim() }).then(function () {
        verified();
      }).catch(c.showError);
    });
    c.fill('verification-step', [el('p', { id: 'code-sent', text: t('admin.helpdesk.code.sent', { method: target ? target.method + ' · ' + target.label : '' }) }), form]);
    input.focus();
  }

  function approvalStep(verification) {
    var status = el('p', { id: 'approval-status' });
    var describe = function (state) {
      status.setAttribute('data-status', state.status);
      status.textContent = t('admin.helpdesk.approval.sent', { approver: state.approver || '', status: state.status });
    };
    var check = function () {
      return c.api('GET', '/api/admin/helpdesk/verifications/' + encodeURIComponent(verification.id)).then(function (result) {
        describe(result.verification);
        if (result.verification.status !== 'pending') stopPolling();
        if (result.verification.status === 'verified') verified();
      }).catch(function (error) {
        stopPolling();
        c.showError(error);
      });
    };
    var refresh = el('button', { type: 'button', class: 'button button-secondary', id: 'approval-refresh', text: t('admin.helpdesk.approval.refresh') });
    refresh.addEventListener('click', function () { c.clearMessages(); check(); });
    describe(verification);
    c.fill('verification-step', [status, refresh]);
    // The manager answers from their mailbox, so the page watches the status on its own.
    approvalTimer = window.setInterval(check, APPROVAL_POLL_MS);
  }

  function verified() {
    stopPolling();
    show('helpdesk-issue', true);
    c.say(t('admin.helpdesk.verified'));
    var lifetime = document.getElementById('issue-lifetime');
    if (lifetime) lifetime.focus();
  }

  function issuePass() {
    if (!current || !current.verificationId) return;
    var minutes = Number(document.getElementById('issue-lifetime').value);
    var uses = Number(document.getElementById('issue-uses').value);
    var payload = { accountId: current.view.account.id, verificationId: current.verificationId, lifetimeSeconds: Math.round(minutes * 60), uses: uses };
    c.api('POST', '/api/admin/helpdesk/passes', payload).then(function (result) {
      // A verification backs one pass: the next pass needs a new one.
      current.verificationId = null;
      show('helpdesk-issue', false);
      show('helpdesk-verify', false);
      c.fill('verification-step', null);
      c.fill('pass-value', passGroups(result.pass).map(function (group) { return el('span', { class: 'pass-group', text: group }); }));
      document.getElementById('pass-value').setAttribute('data-pass', result.pass);
      c.fill('pass-validity', t('admin.helpdesk.pass.valid', { until: c.when(result.accessPass.expiresAt), uses: result.accessPass.maxUses }));
      show('pass-shown', true);
      document.getElementById('pass-shown').focus();
      return refreshPerson();
    }).catch(c.showError);
  }

  function refreshPerson() {
    return c.api('GET', '/api/admin/helpdesk/accounts/' + encodeURIComponent(current.view.account.username)).then(function (view) {
      current.view = view;
      c.fill('helpdesk-person', personView(view));
    });
  }

  function lookUp(identifier) {
    stopPolling();
    forgetPass();
    show('helpdesk-verify', false);
    show('helpdesk-issue', false);
    c.fill('helpdesk-person', el('p', { text: t('admin.js.loading') }));
    return c.api('GET', '/api/admin/helpdesk/accounts/' + encodeURIComponent(identifier)).then(function (view) {
      current = { view: view, verificationId: null };
      c.fill('helpdesk-person', personView(view));
      // Forms are a courtesy: the API refuses a pass for whom this operator may not serve (PRIV-3).
      if (!view.issueRefusal) {
        c.fill('helpdesk-verification', verificationView(view));
        show('helpdesk-verify', true);
      }
    }).catch(function (error) {
      current = null;
      c.fill('helpdesk-person', null);
      c.showError(error);
    });
  }

  function setUpCopy() {
    var button = document.getElementById('pass-copy');
    if (!button) return;
    button.addEventListener('click', function () {
      var pass = document.getElementById('pass-value').getAttribute('data-pass') || '';
      var copied = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(pass) : Promise.reject(new Error('no clipboard'));
      copied.then(function () { c.say(t('admin.helpdesk.pass.copied')); }, function () { c.say(t('admin.helpdesk.pass.copy_failed')); });
    });
  }

  // ---- day-one page -------------------------------------------------------------------------

  function dayOneResult(result) {
    return [
      el('p', { class: 'notice notice-ok', id: 'dayone-issued', text: t('admin.dayone.issued', { count: result.issued.length, batch: result.batchId }) }),
      c.table(t('admin.dayone.result'), [t('admin.dayone.line'), t('admin.js.username'), t('admin.dayone.valid_from'), t('admin.dayone.expires'), t('admin.dayone.sent_to')], result.issued.map(function (row) {
        return [String(row.line), row.username, c.when(row.validFrom), c.when(row.expiresAt), row.deliveredTo.join(', ')];
      }), { 'data-table': 'dayone' }),
    ];
  }

  function submitDayOne(form) {
    var file = form.elements.file.files[0];
    if (!file) {
      c.showError({ problem: {}, message: t('admin.dayone.no_file') });
      return;
    }
    var delivery = form.querySelector('input[name="delivery"]:checked');
    c.fill('dayone-result', null);
    file.text().then(function (text) {
      return c.api('POST', '/api/admin/dayone/passes', { csv: text, delivery: delivery ? delivery.value : 'split' });
    }).then(function (result) {
      c.fill('dayone-result', dayOneResult(result));
      form.reset();
    }).catch(c.showError);
  }

  if (page === 'helpdesk') {
    onSubmit('helpdesk-lookup', function (form) { lookUp(form.elements.identifier.value.trim()); });
    onSubmit('issue-form', issuePass);
    setUpCopy();
  }
  if (page === 'dayone') onSubmit('dayone-form', submitDayOne);
})();
