// Progressive enhancement for the portal; every page works without it.
// - Focuses the error summary so screen readers and keyboard users land on it.
// - Live feedback on a new password: asks the server (the same rules the reset will apply) after a
//   pause in typing. The password is sent only in a same-origin POST body, never in a URL.
(function () {
  'use strict';

  var summary = document.getElementById('error-summary');
  if (summary) summary.focus();

  var form = document.getElementById('password-form');
  if (!form) return;
  var input = document.getElementById('password');
  var feedback = document.getElementById('password-feedback');
  var csrf = form.querySelector('input[name="_csrf"]');
  var items = form.querySelectorAll('#password-rules li[data-rule]');
  var min = Number(form.getAttribute('data-min'));
  var timer = null;
  var sequence = 0;

  function characters(text) {
    return Array.from(text.normalize('NFKC')).length;
  }

  function mark(rule, met) {
    for (var i = 0; i < items.length; i += 1) {
      if (items[i].getAttribute('data-rule') !== rule) continue;
      items[i].setAttribute('data-state', met ? 'met' : 'unmet');
      items[i].querySelector('.rule-state').textContent = '(' + form.getAttribute(met ? 'data-met' : 'data-unmet') + ')';
    }
  }

  function show(reasons) {
    var broken = {};
    reasons.forEach(function (reason) { broken[reason.rule] = true; });
    for (var i = 0; i < items.length; i += 1) mark(items[i].getAttribute('data-rule'), !broken[items[i].getAttribute('data-rule')]);
    feedback.textContent = reasons.length === 0 ? form.getAttribute('data-ok') : form.getAttribute('data-failed') + ' ' + reasons.map(function (r) { return r.message; }).join(' ');
  }

  function check() {
    var value = input.value;
    var mine = (sequence += 1);
    if (characters(value) < min) {
      // Too short to be worth a round trip: the length rule alone decides.
      mark('length', false);
      feedback.textContent = form.getAttribute('data-failed');
      return;
    }
    feedback.textContent = form.getAttribute('data-pending');
    fetch(form.getAttribute('data-check'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf ? csrf.value : '' },
      body: JSON.stringify({ password: value }),
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (mine !== sequence) return;
        if (body) show(body.reasons); else feedback.textContent = '';
      })
      .catch(function () { if (mine === sequence) feedback.textContent = ''; });
  }

  input.addEventListener('input', function () {
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, 600);
  });
})();
