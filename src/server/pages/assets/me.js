// "My recovery methods" and passkey gates; the code pages work without it, passkeys cannot.
// - Passkeys: runs the WebAuthn ceremony with @simplewebauthn/browser (served from this server) on
//   the options in the form's data-public-key, puts the credential in the hidden field and posts.
// - Recovery codes: download as a text file (a Blob, nothing leaves the browser) and print.
(function () {
  'use strict';

  var library = window.SimpleWebAuthnBrowser;
  var forms = document.querySelectorAll('form[data-passkey]');
  for (var i = 0; i < forms.length; i += 1) setUpPasskey(forms[i]);

  function setUpPasskey(form) {
    var button = form.querySelector('.passkey-button');
    var error = form.querySelector('.passkey-error');
    var field = form.querySelector('input[name="credential"]');
    if (!library || !library.browserSupportsWebAuthn()) {
      error.textContent = form.getAttribute('data-failed');
      error.hidden = false;
      button.disabled = true;
      return;
    }
    button.addEventListener('click', function () {
      var optionsJSON = JSON.parse(form.getAttribute('data-public-key'));
      var ceremony = form.getAttribute('data-passkey') === 'register' ? library.startRegistration({ optionsJSON: optionsJSON }) : library.startAuthentication({ optionsJSON: optionsJSON });
      button.disabled = true;
      error.hidden = true;
      ceremony.then(
        function (credential) {
          field.value = JSON.stringify(credential);
          form.submit();
        },
        function () {
          // Cancelled, timed out or refused by the device: say so and let the person try again.
          error.textContent = form.getAttribute('data-failed');
          error.hidden = false;
          button.disabled = false;
          button.focus();
        },
      );
    });
  }

  var codes = document.getElementById('recovery-codes');
  if (!codes) return;
  var download = document.getElementById('codes-download');
  var print = document.getElementById('codes-print');
  download.hidden = false;
  print.hidden = false;
  download.addEventListener('click', function () {
    var lines = [codes.getAttribute('data-file-intro'), ''];
    var items = codes.querySelectorAll('code');
    for (var j = 0; j < items.length; j += 1) lines.push(items[j].textContent);
    var url = URL.createObjectURL(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/plain;charset=utf-8' }));
    var link = document.createElement('a');
    link.href = url;
    link.download = download.getAttribute('data-download');
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  });
  print.addEventListener('click', function () {
    window.print();
  });
})();
