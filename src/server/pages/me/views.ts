import type { EnrollmentView } from '../../../core/enrollment/service.ts';
import type { FlowView } from '../../../core/flows/recovery/service.ts';
import type { MethodId } from '../../../core/methods/method-ids.ts';
import type { MessageKey } from '../i18n/catalog.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout, type PageContext, type PageErrors } from '../views.ts';
import { qrSvg } from './qr.ts';
import type { ReconfirmationDue } from '../../../core/lifecycle/rules.ts';
import { RECONFIRMABLE, reconfirmButton, reconfirmPrompt } from './reconfirm.ts';

const NO_ERRORS: PageErrors = { items: [], stuck: false };

/** The portal frame plus these pages' stylesheet (a body `<link>`: the frame's head is shared). */
function meLayout(ctx: PageContext, title: string, main: SafeHtml, errors: PageErrors = NO_ERRORS, options: { helpdesk?: boolean } = {}): string {
  return layout(ctx, title, html`<link rel="stylesheet" href="/assets/me.css">${main}`, errors, options);
}

/** Methods a person can add from these pages, strongest first (security questions only where policy enables them). */
export const ADDABLE_METHODS = ['webauthn', 'totp', 'recovery_code', 'email_code', 'sms_code'] as const satisfies readonly MethodId[];
export type AddableMethod = (typeof ADDABLE_METHODS)[number];

const csrfField = (ctx: PageContext): SafeHtml => html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
const nameKey = (id: MethodId): MessageKey => `me.name.${id}`;

/** The pages' script and the WebAuthn browser library, both from this server (CSP `script-src 'self'`). */
export const meScripts = (): SafeHtml => html`<script src="/vendor/simplewebauthn-browser.js" defer></script><script src="/assets/me.js" defer></script>`;

function when(ctx: PageContext, iso: string): string {
  return new Intl.DateTimeFormat(ctx.language, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso)) + ' UTC';
}

function noticeBlock(ctx: PageContext, notice: MessageKey | null): SafeHtml {
  return notice ? html`<div class="notice" role="status"><p>${ctx.t(notice)}</p></div>` : html``;
}

const signOutForm = (ctx: PageContext): SafeHtml => html`<form method="post" action="/me/sign-out" class="sign-out">${csrfField(ctx)}<button type="submit" class="button button-secondary">${ctx.t('me.signout')}</button></form>`;

/**
 * The passkey button form, for registering (`/me/methods/:id/verify`) and for a gate (recovery and
 * sign-in). The options travel in a data attribute; the script runs the ceremony and posts the
 * credential in the hidden field. Without JavaScript the notice says passkeys need it.
 */
export function passkeyForm(ctx: PageContext, options: { action: string; mode: 'register' | 'authenticate'; publicKey: unknown; button: string; failed: string }): SafeHtml {
  return html`<form method="post" action="${options.action}" class="passkey-form" data-passkey="${options.mode}" data-public-key="${JSON.stringify(options.publicKey)}" data-failed="${options.failed}">
  ${csrfField(ctx)}
  <input type="hidden" name="credential" value="">
  <p class="field-error passkey-error" role="alert" hidden></p>
  <noscript><p>${ctx.t('passkey.nojs')}</p></noscript>
  <button type="button" class="button passkey-button" id="passkey-button">${options.button}</button>
</form>
${meScripts()}`;
}

export function signInPage(ctx: PageContext, errors: PageErrors, notice: MessageKey | null): string {
  return meLayout(
    ctx,
    ctx.t('me.signin.title'),
    html`${noticeBlock(ctx, notice)}<p>${ctx.t('me.signin.intro')}</p>
<form method="post" action="/me/sign-in" novalidate>
  ${csrfField(ctx)}
  <div class="field">
    <label for="username">${ctx.t('me.signin.username')}</label>
    <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required autofocus>
  </div>
  <div class="field">
    <label for="password">${ctx.t('me.signin.password')}</label>
    <input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" required>
  </div>
  <button type="submit" class="button">${ctx.t('me.signin.submit')}</button>
</form>
<h2>${ctx.t('me.pass.heading')}</h2>
<p>${ctx.t('me.pass.intro')}</p>
<form method="post" action="/me/sign-in/pass" novalidate>
  ${csrfField(ctx)}
  <div class="field">
    <label for="pass-username">${ctx.t('me.signin.username')}</label>
    <input id="pass-username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required>
  </div>
  <div class="field">
    <label for="pass">${ctx.t('me.pass.label')}</label>
    <input id="pass" name="pass" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="64" required>
  </div>
  <button type="submit" class="button button-secondary">${ctx.t('me.pass.submit')}</button>
</form>`,
    errors,
    { helpdesk: true },
  );
}

/** The sign-in gate: choose one of the person's methods, then answer it (a code or the passkey). */
export function gatePage(ctx: PageContext, view: FlowView, errors: PageErrors): string {
  const challenge = view.challenge;
  const selected = challenge?.methodId ?? view.methods[0]?.id;
  const choose = html`<form method="post" action="/me/gate/method">
  ${csrfField(ctx)}
  <fieldset class="field">
    <legend>${ctx.t('method.legend')}</legend>
    ${view.methods.map(
      (method, index) => html`<div class="radio">
      <input type="radio" name="method" id="${index === 0 ? 'method' : `method-${method.id}`}" value="${method.id}"${method.id === selected ? html` checked` : ''}>
      <label for="${index === 0 ? 'method' : `method-${method.id}`}">${ctx.t(`method.${method.id}`)}</label>
    </div>`,
    )}
  </fieldset>
  <button type="submit" class="button${challenge ? ' button-secondary' : ''}">${ctx.t('method.submit')}</button>
</form>`;
  let answer = html``;
  if (challenge?.answerKind === 'passkey') {
    answer = html`<h2>${ctx.t('method.webauthn')}</h2><p>${ctx.t('code.intro.webauthn')}</p>${passkeyForm(ctx, { action: '/me/gate/answer', mode: 'authenticate', publicKey: challenge.publicKey ?? {}, button: ctx.t('passkey.use'), failed: ctx.t('passkey.failed') })}`;
  } else if (challenge) {
    answer = html`<h2>${ctx.t(`method.${challenge.methodId}`)}</h2>
<p id="code-hint">${ctx.t(`code.intro.${challenge.methodId}`)}</p>
<form method="post" action="/me/gate/answer" novalidate>
  ${csrfField(ctx)}
  <div class="field">
    <label for="code">${ctx.t('code.label')}</label>
    <input id="code" name="code" type="text" class="code-input" autocomplete="one-time-code" spellcheck="false" autocapitalize="none" maxlength="64" required autofocus aria-describedby="code-hint"${
      challenge.answerKind === 'numeric_code' ? html` inputmode="numeric"` : ''
    }>
  </div>
  <button type="submit" class="button">${ctx.t('code.submit')}</button>
</form>`;
  }
  return meLayout(ctx, ctx.t('me.gate.title'), html`<p>${ctx.t('me.gate.intro')}</p>${answer}${choose}`, errors, { helpdesk: true });
}

export interface MethodsPageData {
  readonly methods: readonly EnrollmentView[];
  readonly required: number;
  readonly missing: number;
  readonly allowed: readonly MethodId[];
  /** The policy's question catalogue and how many to answer, when security questions are enabled; else null. */
  readonly questions: { readonly catalogue: readonly string[]; readonly answersRequired: number } | null;
  /** Methods whose re-confirmation is due or lapsed (as the sign-in answer's `reconfirmation.due`): the prompt lists them. */
  readonly due?: readonly ReconfirmationDue[];
  /** The server clock's now, so "counts from" agrees with the engine that enforces the cooling-off. */
  readonly now: Date;
}

/** Security questions: pick `answersRequired` questions from the catalogue and answer each (an extra step, never a gate). */
function questionsForm(ctx: PageContext, questions: NonNullable<MethodsPageData['questions']>): SafeHtml {
  const rows = Array.from({ length: questions.answersRequired }, (_unused, index) => index + 1);
  return html`<li class="add-method"><form method="post" action="/me/add">
  ${csrfField(ctx)}<input type="hidden" name="method" value="security_questions">
  <h3 id="add-security_questions">${ctx.t('me.add.security_questions')}</h3>
  ${rows.map(
    (number) => html`<div class="field">
    <label for="question_${number}">${ctx.t('me.questions.question', { number })}</label>
    <select id="question_${number}" name="question_${number}" required>${questions.catalogue.map((question, index) => html`<option value="${index}"${index === number - 1 ? html` selected` : ''}>${question}</option>`)}</select>
  </div>
  <div class="field">
    <label for="answer_${number}">${ctx.t('me.questions.answer', { number })}</label>
    <input id="answer_${number}" name="answer_${number}" type="text" autocomplete="off" maxlength="256" required>
  </div>`,
  )}
  <button type="submit" class="button" aria-describedby="add-security_questions">${ctx.t('me.add.submit')}</button>
</form></li>`;
}

function methodItem(ctx: PageContext, method: EnrollmentView, now: Date): SafeHtml {
  const name = ctx.t(nameKey(method.method));
  const facts: string[] = [ctx.t('me.added', { date: when(ctx, method.createdAt) })];
  if (method.status === 'pending') facts.push(ctx.t('me.pending'));
  else facts.push(method.lastUsedAt ? ctx.t('me.used', { date: when(ctx, method.lastUsedAt) }) : ctx.t('me.unused'));
  if (method.remainingCodes !== null) facts.push(ctx.t('me.codes_left', { count: method.remainingCodes }));
  if (method.usableFrom && new Date(method.usableFrom).getTime() > now.getTime()) facts.push(ctx.t('me.usable_from', { date: when(ctx, method.usableFrom) }));
  if (method.reconfirmation && method.reconfirmation.status !== 'current') facts.push(ctx.t('me.reconfirm_due', { date: when(ctx, method.reconfirmation.dueAt) }));
  const confirmable = method.status === 'pending' && (method.method === 'email_code' || method.method === 'sms_code' || method.method === 'totp');
  return html`<li class="method" data-method="${method.method}">
  <div class="method-text"><strong>${name}</strong>${method.method !== 'recovery_code' && method.label !== name ? html` <span class="method-label">${method.label}</span>` : ''}
  <ul class="method-facts">${facts.map((fact) => html`<li>${fact}</li>`)}</ul></div>
  <div class="method-actions">
  ${confirmable ? html`<a class="button button-secondary" href="/me/methods/${method.id}/verify">${ctx.t('me.confirm_pending')}</a>` : ''}
  ${method.status !== 'pending' && method.reconfirmation && method.reconfirmation.status !== 'current' && RECONFIRMABLE.has(method.method) ? reconfirmButton(ctx, method.id, `${name} ${method.label}`) : ''}
  <form method="post" action="/me/methods/${method.id}/remove">${csrfField(ctx)}<button type="submit" class="button button-secondary" aria-label="${ctx.t('me.remove.label', { name: `${name} ${method.label}` })}">${ctx.t('me.remove')}</button></form>
  </div>
</li>`;
}

export function methodsPage(ctx: PageContext, data: MethodsPageData, errors: PageErrors, notice: MessageKey | null): string {
  const hasCodes = data.methods.some((method) => method.method === 'recovery_code');
  const prompt =
    data.missing > 0
      ? html`<div class="prompt" role="status"><p><strong>${data.missing === 1 ? ctx.t('me.prompt.one', { required: data.required }) : ctx.t('me.prompt.other', { count: data.missing, required: data.required })}</strong></p></div>`
      : html``;
  const addable = ADDABLE_METHODS.filter((id) => data.allowed.includes(id));
  const addForm = (id: AddableMethod): SafeHtml => {
    const label = id === 'recovery_code' && hasCodes ? ctx.t('me.add.recovery_code.replace') : ctx.t(`me.add.${id}`);
    const extra =
      id === 'email_code'
        ? html`<div class="field"><label for="address">${ctx.t('me.add.address')}</label><input id="address" name="address" type="email" autocomplete="email" maxlength="256" required></div>`
        : id === 'sms_code'
          ? html`<div class="field"><label for="phone">${ctx.t('me.add.phone')}</label><input id="phone" name="phone" type="tel" autocomplete="tel" maxlength="32" required></div>`
          : html``;
    return html`<li class="add-method"><form method="post" action="/me/add">
  ${csrfField(ctx)}<input type="hidden" name="method" value="${id}">
  <h3 id="add-${id}">${label}</h3>
  ${extra}
  <button type="submit" class="button" aria-describedby="add-${id}">${ctx.t('me.add.submit')}</button>
</form></li>`;
  };
  return meLayout(
    ctx,
    ctx.t('me.title'),
    html`${noticeBlock(ctx, notice)}${prompt}${reconfirmPrompt(ctx, data.due ?? [])}
<p>${ctx.t('me.intro')}</p>
<h2>${ctx.t('me.list.heading')}</h2>
${data.methods.length === 0 ? html`<p>${ctx.t('me.none')}</p>` : html`<ul class="methods">${data.methods.map((method) => methodItem(ctx, method, data.now))}</ul>`}
<p class="travel-link"><a href="/me/travel">${ctx.t('me.travel.link')}</a></p>
<h2>${ctx.t('me.add.heading')}</h2>
<ul class="add-methods">${addable.map(addForm)}${data.questions ? questionsForm(ctx, data.questions) : ''}</ul>
${signOutForm(ctx)}`,
    errors,
  );
}

export function totpSetupPage(ctx: PageContext, enrollmentId: string, secret: string, otpauthUri: string): string {
  const grouped = secret.replace(/(.{4})/g, '$1 ').trim();
  return meLayout(
    ctx,
    ctx.t('me.totp.title'),
    html`<p>${ctx.t('me.totp.scan')}</p>
<div class="qr-box">${qrSvg(otpauthUri, ctx.t('me.totp.qr'))}</div>
<p>${ctx.t('me.totp.key')}: <code class="secret" id="totp-secret" data-secret="${secret}">${grouped}</code></p>
${verifyForm(ctx, enrollmentId, 'totp')}`,
  );
}

function verifyForm(ctx: PageContext, enrollmentId: string, method: 'totp' | 'email_code' | 'sms_code'): SafeHtml {
  return html`<form method="post" action="/me/methods/${enrollmentId}/verify" novalidate>
  ${csrfField(ctx)}
  <div class="field">
    <label for="code">${ctx.t('me.verify.code')}</label>
    <p class="hint" id="code-hint">${ctx.t(`me.verify.intro.${method}`)}</p>
    <input id="code" name="code" type="text" class="code-input" inputmode="numeric" autocomplete="one-time-code" spellcheck="false" maxlength="64" required aria-describedby="code-hint">
  </div>
  <button type="submit" class="button">${ctx.t('me.verify.submit')}</button>
</form>`;
}

export function verifyPage(ctx: PageContext, enrollmentId: string, method: 'totp' | 'email_code' | 'sms_code', errors: PageErrors): string {
  return meLayout(ctx, ctx.t('me.verify.title'), html`${verifyForm(ctx, enrollmentId, method)}<p><a href="/me">${ctx.t('me.title')}</a></p>`, errors);
}

export function passkeySetupPage(ctx: PageContext, enrollmentId: string, publicKey: unknown, errors: PageErrors = NO_ERRORS): string {
  return meLayout(
    ctx,
    ctx.t('me.passkey.title'),
    html`<p>${ctx.t('me.passkey.intro')}</p>
${passkeyForm(ctx, { action: `/me/methods/${enrollmentId}/verify`, mode: 'register', publicKey, button: ctx.t('me.passkey.create'), failed: ctx.t('me.passkey.failed') })}
<p><a href="/me">${ctx.t('me.title')}</a></p>`,
    errors,
  );
}

export function recoveryCodesPage(ctx: PageContext, codes: readonly string[]): string {
  return meLayout(
    ctx,
    ctx.t('me.codes.title'),
    html`<p>${ctx.t('me.codes.intro')}</p>
<ol class="recovery-codes" id="recovery-codes" data-file-intro="${ctx.t('me.codes.file', { organisation: ctx.organisation })}">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
<div class="code-actions no-print">
  <button type="button" class="button button-secondary" id="codes-download" data-download="recovery-codes.txt" hidden>${ctx.t('me.codes.download')}</button>
  <button type="button" class="button button-secondary" id="codes-print" hidden>${ctx.t('me.codes.print')}</button>
  <a class="button" href="/me">${ctx.t('me.codes.done')}</a>
</div>
${meScripts()}`,
  );
}
