import type { FlowView } from '../../core/flows/recovery/service.ts';
import type { MethodId } from '../../core/methods/method-ids.ts';
import type { PasswordRules } from '../../core/policy/schema.ts';
import { CATALOGS, LANGUAGES, type Language, type MessageKey, type Translate } from './i18n/catalog.ts';
import { html, type SafeHtml } from './html.ts';
import { passkeyForm } from './me/views.ts';

/** Everything a page needs besides its own data: language, CSRF token, branding, helpdesk. */
export interface PageContext {
  readonly t: Translate;
  readonly language: Language;
  readonly csrf: string;
  /** The path of this page, for the language links (no query: nothing else is carried over). */
  readonly path: string;
  readonly organisation: string;
  readonly hasLogo: boolean;
  readonly helpdesk: { readonly url?: string | undefined; readonly text?: string | undefined };
}

export type PurposeSlug = 'forgot' | 'unlock';
export const slugOf = (purpose: string): PurposeSlug => (purpose === 'unlock' ? 'unlock' : 'forgot');

/** One problem to show in the error summary: the text and, when it concerns a field, its id. */
export interface PageError {
  readonly message: string;
  readonly field?: string | undefined;
  readonly details?: readonly string[];
}

export interface PageErrors {
  readonly items: readonly PageError[];
  /** The person cannot go on alone: show the helpdesk prominently. */
  readonly stuck: boolean;
}

const NO_ERRORS: PageErrors = { items: [], stuck: false };

function helpdeskBlock(ctx: PageContext, prominent: boolean): SafeHtml {
  const { url, text } = ctx.helpdesk;
  if (!url && !text) return html``;
  return html`<aside class="helpdesk${prominent ? ' helpdesk-prominent' : ''}" aria-labelledby="helpdesk-title">
  <h2 id="helpdesk-title">${ctx.t('helpdesk.heading')}</h2>
  <p>${ctx.t('helpdesk.stuck')}</p>
  ${url ? html`<p><a href="${url}" rel="noreferrer">${ctx.t('helpdesk.link')}</a></p>` : ''}
  ${text ? html`<p>${text}</p>` : ''}
</aside>`;
}

function errorSummary(ctx: PageContext, errors: PageErrors): SafeHtml {
  if (errors.items.length === 0) return html``;
  return html`<div class="error-summary" id="error-summary" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title">
  <h2 id="error-summary-title">${ctx.t('error.summary')}</h2>
  <ul>${errors.items.map(
    (item) =>
      html`<li>${item.field ? html`<a href="#${item.field}">${item.message}</a>` : item.message}${
        item.details && item.details.length > 0 ? html`<ul>${item.details.map((detail) => html`<li>${detail}</li>`)}</ul>` : ''
      }</li>`,
  )}</ul>
</div>`;
}

/** The page frame: language, landmarks, skip link, header with branding and the language switcher. */
export function layout(ctx: PageContext, title: string, main: SafeHtml, errors: PageErrors = NO_ERRORS, options: { helpdesk?: boolean } = {}): string {
  const fullTitle = ctx.t('layout.title', { page: title, organisation: ctx.organisation });
  const languages = LANGUAGES.map((language) => {
    const name = CATALOGS[language]['language.name'];
    return language === ctx.language
      ? html`<li><a href="${ctx.path}?lang=${language}" lang="${language}" hreflang="${language}" aria-current="true">${name}</a></li>`
      : html`<li><a href="${ctx.path}?lang=${language}" lang="${language}" hreflang="${language}">${name}</a></li>`;
  });
  return html`<!doctype html>
<html lang="${ctx.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${errors.items.length > 0 ? `${ctx.t('error.summary')}: ` : ''}${fullTitle}</title>
<link rel="icon" href="${ctx.hasLogo ? '/brand/logo' : '/assets/favicon.svg'}">
<link rel="stylesheet" href="/assets/portal.css">
<link rel="stylesheet" href="/brand/brand.css">
<script src="/assets/portal.js" defer></script>
</head>
<body>
<a class="skip-link" href="#main">${ctx.t('layout.skip')}</a>
<header class="banner">
  <div class="banner-inner">
    <a class="brand" href="/" aria-label="${ctx.t('layout.home')}: ${ctx.organisation}">${ctx.hasLogo ? html`<img src="/brand/logo" alt="" class="logo">` : ''}<span>${ctx.organisation}</span></a>
    <nav class="languages" aria-label="${ctx.t('language.switch')}"><ul>${languages}</ul></nav>
  </div>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${errorSummary(ctx, errors)}
${main}
${options.helpdesk || errors.stuck ? helpdeskBlock(ctx, errors.stuck) : ''}
</main>
</body>
</html>
`.text;
}

const csrfField = (ctx: PageContext): SafeHtml => html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;

function progress(ctx: PageContext, view: FlowView): SafeHtml {
  const remaining = Math.max(0, view.gatesRequired - view.gatesPassed);
  const left =
    remaining === 0 ? ctx.t('progress.done') : remaining === 1 ? ctx.t('progress.remaining.one') : ctx.t('progress.remaining.other', { count: remaining });
  return html`<p class="progress" id="progress"><span>${ctx.t('progress.passed', { passed: view.gatesPassed, required: view.gatesRequired })}</span> <strong>${left}</strong></p>`;
}

const fieldError = (errors: PageErrors, field: string): PageError | undefined => errors.items.find((item) => item.field === field);

function errorAttributes(errors: PageErrors, field: string, hint?: string): SafeHtml {
  const error = fieldError(errors, field);
  const described = [hint, error ? `${field}-error` : undefined].filter(Boolean).join(' ');
  return html`${error ? html` aria-invalid="true"` : ''}${described ? html` aria-describedby="${described}"` : ''}`;
}

const inlineError = (errors: PageErrors, field: string): SafeHtml => {
  const error = fieldError(errors, field);
  return error ? html`<p class="field-error" id="${field}-error">${error.message}</p>` : html``;
};

export function homePage(ctx: PageContext): string {
  return layout(
    ctx,
    ctx.t('home.title'),
    html`<p>${ctx.t('home.intro')}</p>
<ul class="choices">
  <li><a class="choice" href="/forgot"><strong>${ctx.t('home.reset')}</strong><span>${ctx.t('home.reset.hint')}</span></a></li>
  <li><a class="choice" href="/unlock"><strong>${ctx.t('home.unlock')}</strong><span>${ctx.t('home.unlock.hint')}</span></a></li>
  <li><a class="choice" href="/me"><strong>${ctx.t('home.me')}</strong><span>${ctx.t('home.me.hint')}</span></a></li>
</ul>`,
  );
}

export function startPage(ctx: PageContext, slug: PurposeSlug, errors: PageErrors, identifier = ''): string {
  return layout(
    ctx,
    ctx.t(slug === 'unlock' ? 'start.unlock.title' : 'start.reset.title'),
    html`<p id="identifier-hint">${ctx.t('start.intro')}</p>
<form method="post" action="/${slug}" novalidate>
  ${csrfField(ctx)}
  <div class="field">
    <label for="identifier">${ctx.t('start.identifier')}</label>
    ${inlineError(errors, 'identifier')}
    <input id="identifier" name="identifier" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required autofocus value="${identifier}"${errorAttributes(errors, 'identifier', 'identifier-hint')}>
  </div>
  <button type="submit" class="button">${ctx.t('start.submit')}</button>
</form>`,
    errors,
  );
}

const methodKey = (id: MethodId): MessageKey => `method.${id}`;

export function methodPage(ctx: PageContext, view: FlowView, errors: PageErrors): string {
  const slug = slugOf(view.purpose);
  const selected = view.challenge?.methodId ?? view.methods[0]?.id;
  return layout(
    ctx,
    ctx.t('method.title'),
    html`${progress(ctx, view)}
<form method="post" action="/${slug}/method">
  ${csrfField(ctx)}
  <fieldset class="field"${errorAttributes(errors, 'method', 'method-hint')}>
    <legend>${ctx.t('method.legend')}</legend>
    <p class="hint" id="method-hint">${ctx.t('method.hint')}</p>
    ${inlineError(errors, 'method')}
    ${view.methods.map(
      (method, index) => html`<div class="radio">
      <input type="radio" name="method" id="${index === 0 ? 'method' : `method-${method.id}`}" value="${method.id}"${method.id === selected ? html` checked` : ''}>
      <label for="${index === 0 ? 'method' : `method-${method.id}`}">${ctx.t(methodKey(method.id))}</label>
    </div>`,
    )}
  </fieldset>
  <button type="submit" class="button">${ctx.t('method.submit')}</button>
</form>`,
    errors,
    { helpdesk: true },
  );
}

const codeIntroKey = (id: MethodId): MessageKey => `code.intro.${id}`;

export function codePage(ctx: PageContext, view: FlowView, errors: PageErrors): string {
  const slug = slugOf(view.purpose);
  const challenge = view.challenge;
  if (!challenge) throw new Error('codePage needs an open challenge');
  if (challenge.answerKind === 'passkey') {
    const form = passkeyForm(ctx, { action: `/${slug}/code`, mode: 'authenticate', publicKey: challenge.publicKey ?? {}, button: ctx.t('passkey.use'), failed: ctx.t('passkey.failed') });
    return layout(ctx, ctx.t('code.title'), html`${progress(ctx, view)}<p>${ctx.t('code.intro.webauthn')}</p>${form}<p><a href="/${slug}/method">${ctx.t('code.other')}</a></p>`, errors);
  }
  const numeric = challenge.answerKind === 'numeric_code';
  const fields =
    challenge.answerKind === 'answers'
      ? challenge.questions.map(
          (question, index) => html`<div class="field">
    <label for="answer_${index + 1}">${ctx.t('code.answer', { number: index + 1 })}: ${question}</label>
    <input id="answer_${index + 1}" name="answer_${index + 1}" type="text" autocomplete="off" maxlength="256"${index === 0 ? html` autofocus` : ''}>
  </div>`,
        )
      : html`<div class="field">
    <label for="code">${ctx.t('code.label')}</label>
    ${inlineError(errors, 'code')}
    <input id="code" name="code" type="text" class="code-input" autocomplete="one-time-code" spellcheck="false" autocapitalize="none" maxlength="64" required autofocus${
      numeric ? html` inputmode="numeric"` : ''
    }${errorAttributes(errors, 'code', 'code-hint')}>
  </div>`;
  return layout(
    ctx,
    ctx.t('code.title'),
    html`${progress(ctx, view)}
<p id="code-hint">${ctx.t(codeIntroKey(challenge.methodId))}</p>
<form method="post" action="/${slug}/code" novalidate>
  ${csrfField(ctx)}
  ${fields}
  <button type="submit" class="button">${ctx.t('code.submit')}</button>
</form>
<p><a href="/${slug}/method">${ctx.t('code.other')}</a></p>`,
    errors,
  );
}

/** Which checklist line a rejection code belongs to. */
export const RULE_OF_REASON: Readonly<Record<string, string>> = {
  too_short: 'length',
  too_long: 'length',
  blank: 'length',
  common: 'common',
  context: 'context',
  repetitive: 'repetitive',
  breached: 'breached',
};

export function passwordPage(ctx: PageContext, view: FlowView, rules: PasswordRules, errors: PageErrors): string {
  const items: { id: string; text: string }[] = [{ id: 'length', text: ctx.t('rule.length', { min: rules.minLength, max: rules.maxLength }) }];
  if (rules.blocklist) items.push({ id: 'common', text: ctx.t('rule.common' ) }, { id: 'repetitive', text: ctx.t('rule.repetitive') });
  if (rules.contextWords) items.push({ id: 'context', text: ctx.t('rule.context') });
  if (rules.breachedCheck) items.push({ id: 'breached', text: ctx.t('rule.breached') });
  return layout(
    ctx,
    ctx.t('password.title'),
    html`${progress(ctx, view)}
<p>${ctx.t('password.intro')}</p>
<form method="post" action="/forgot/password" novalidate id="password-form" data-check="/forgot/password/check" data-min="${rules.minLength}" data-max="${rules.maxLength}"
  data-ok="${ctx.t('password.feedback.ok')}" data-failed="${ctx.t('password.feedback.failed')}" data-pending="${ctx.t('password.feedback.pending')}"
  data-met="${ctx.t('password.rule.met')}" data-unmet="${ctx.t('password.rule.unmet')}">
  ${csrfField(ctx)}
  <div class="field">
    <label for="password">${ctx.t('password.new')}</label>
    ${inlineError(errors, 'password')}
    <input id="password" name="password" type="password" autocomplete="new-password" maxlength="1024" required autofocus${errorAttributes(errors, 'password', 'password-rules')}>
  </div>
  <div class="field">
    <label for="confirmPassword">${ctx.t('password.confirm')}</label>
    <input id="confirmPassword" name="confirmPassword" type="password" autocomplete="new-password" maxlength="1024" required>
  </div>
  <h2 id="password-rules-title">${ctx.t('password.rules')}</h2>
  <ul class="rules" id="password-rules">${items.map((item) => html`<li data-rule="${item.id}"><span class="rule-text">${item.text}</span> <span class="rule-state visually-hidden"></span></li>`)}</ul>
  <p id="password-feedback" class="feedback" aria-live="polite"></p>
  <button type="submit" class="button">${ctx.t('password.submit')}</button>
</form>`,
    errors,
  );
}

export function unlockPage(ctx: PageContext, view: FlowView, errors: PageErrors): string {
  return layout(
    ctx,
    ctx.t('unlock.title'),
    html`${progress(ctx, view)}
<p>${ctx.t('unlock.intro')}</p>
<form method="post" action="/unlock/confirm">
  ${csrfField(ctx)}
  <button type="submit" class="button" autofocus>${ctx.t('unlock.submit')}</button>
</form>`,
    errors,
  );
}

export function donePage(ctx: PageContext, purpose: 'reset' | 'unlock'): string {
  return layout(
    ctx,
    ctx.t(purpose === 'unlock' ? 'done.unlock.title' : 'done.reset.title'),
    html`<div class="done" role="status">
<h2>${ctx.t('done.next')}</h2>
<ul>
  <li>${ctx.t(purpose === 'unlock' ? 'done.unlock.signin' : 'done.reset.signin')}</li>
  <li>${ctx.t('done.notice')}</li>
</ul>
</div>
<p><a href="/">${ctx.t('done.home')}</a></p>`,
    NO_ERRORS,
    { helpdesk: true },
  );
}

/** A page for a request that cannot go on: the message, a way back to the start, and the helpdesk when stuck. */
export function problemPage(ctx: PageContext, errors: PageErrors, startAgain: string | null): string {
  return layout(ctx, ctx.t('error.page'), startAgain ? html`<p><a href="${startAgain}" class="button">${ctx.t('error.start_again')}</a></p>` : html``, errors);
}
