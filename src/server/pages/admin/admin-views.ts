import { AUDIT_EVENT_TYPES } from '../../../core/audit/events.ts';
import { ADMIN_ROLES, type AdminPrincipal, type AdminScope } from '../../../core/admin/principal.ts';
import { ALERT_STATUSES } from '../../../core/monitoring/alerts/alert.ts';
import { CATALOGS, LANGUAGES, type Language, type MessageKey, type Translate } from '../i18n/catalog.ts';
import { html, type SafeHtml } from '../html.ts';

/** The console's sections, in navigation order, each with the permission that opens it. */
export const CONSOLE_SECTIONS = [
  { id: 'dashboard', path: '/admin/dashboard', label: 'admin.nav.dashboard', permission: null },
  { id: 'accounts', path: '/admin/accounts', label: 'admin.nav.accounts', permission: 'accounts:read' },
  { id: 'helpdesk', path: '/admin/helpdesk', label: 'admin.nav.helpdesk', permission: 'tap:issue' },
  { id: 'dayone', path: '/admin/dayone', label: 'admin.nav.dayone', permission: 'tap:issue' },
  { id: 'audit', path: '/admin/audit', label: 'admin.nav.audit', permission: 'audit:read' },
  { id: 'policy', path: '/admin/policy', label: 'admin.nav.policy', permission: 'policy:read' },
  { id: 'alerts', path: '/admin/alerts', label: 'admin.nav.alerts', permission: 'alerts:read' },
  { id: 'outbox', path: '/admin/outbox', label: 'admin.nav.outbox', permission: 'outbox:read' },
  { id: 'recovery-paths', path: '/admin/recovery-paths', label: 'admin.gov.nav.paths', permission: 'policy:read' },
  { id: 'break-glass', path: '/admin/break-glass', label: 'admin.gov.nav.break_glass', permission: 'policy:read' },
  { id: 'privileged-holds', path: '/admin/privileged-holds', label: 'admin.gov.nav.holds', permission: 'accounts:read' },
] as const satisfies readonly { id: string; path: string; label: MessageKey; permission: AdminScope | null }[];
export type ConsoleSection = (typeof CONSOLE_SECTIONS)[number];
export type ConsoleSectionId = ConsoleSection['id'];

/** What every console page needs besides its own content. */
export interface ConsoleContext {
  readonly t: Translate;
  readonly language: Language;
  readonly path: string;
  readonly organisation: string;
  readonly hasLogo: boolean;
}

/** A signed-in page: who is there, what they may open, the session's CSRF token for the script. */
export interface ConsoleSession {
  readonly principal: AdminPrincipal;
  readonly csrf: string;
  readonly sections: readonly ConsoleSectionId[];
}

/**
 * The strings the console script needs, handed over in a data attribute (the CSP allows no inline
 * script): the console's `admin.*` texts and the error catalog, so API problems read in the page's language.
 */
function scriptMessages(language: Language): string {
  const catalog = CATALOGS[language];
  const picked: Record<string, string> = {};
  for (const [key, value] of Object.entries(catalog)) if (key.startsWith('admin.') || key.startsWith('error.')) picked[key] = value;
  return JSON.stringify(picked);
}

function languageLinks(ctx: ConsoleContext): SafeHtml {
  return html`<nav class="languages" aria-label="${ctx.t('language.switch')}"><ul>${LANGUAGES.map((language) => {
    const name = CATALOGS[language]['language.name'];
    return language === ctx.language
      ? html`<li><a href="${ctx.path}?lang=${language}" lang="${language}" hreflang="${language}" aria-current="true">${name}</a></li>`
      : html`<li><a href="${ctx.path}?lang=${language}" lang="${language}" hreflang="${language}">${name}</a></li>`;
  })}</ul></nav>`;
}

function navigation(ctx: ConsoleContext, session: ConsoleSession, current: ConsoleSectionId | null): SafeHtml {
  const roles = ADMIN_ROLES.filter((role) => session.principal.roles.has(role)).map((role) => ctx.t(`admin.role.${role}`));
  return html`<div class="console-bar">
  <nav class="console-nav" aria-label="${ctx.t('admin.nav.label')}"><ul>${CONSOLE_SECTIONS.filter((section) => session.sections.includes(section.id)).map((section) =>
    section.id === current
      ? html`<li><a href="${section.path}" data-section="${section.id}" aria-current="page">${ctx.t(section.label)}</a></li>`
      : html`<li><a href="${section.path}" data-section="${section.id}">${ctx.t(section.label)}</a></li>`,
  )}</ul></nav>
  <p class="who"><span id="signed-in-as">${ctx.t('admin.signed_in_as', { username: session.principal.username ?? '', roles: roles.join(', ') })}</span>
  <button type="button" class="button button-secondary" id="sign-out">${ctx.t('admin.sign_out')}</button></p>
</div>`;
}

/**
 * The console frame: landmarks, skip link, branding, language switcher and, when signed in, the
 * navigation of the sections the roles open. The page's data comes from the admin API through
 * assets/admin.js; the body carries what the script needs (page id, permissions, CSRF token, strings).
 */
export function consoleLayout(ctx: ConsoleContext, input: { page: string; title: string; main: SafeHtml; session: ConsoleSession | null; section?: ConsoleSectionId | null; data?: Readonly<Record<string, string>>; script?: string }): string {
  const { session } = input;
  const permissions = session ? [...session.principal.permissions].join(' ') : '';
  const data = Object.entries(input.data ?? {}).map(([key, value]) => html` data-${key}="${value}"`);
  return html`<!doctype html>
<html lang="${ctx.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${ctx.t('layout.title', { page: input.title, organisation: `${ctx.organisation} ${ctx.t('admin.title')}` })}</title>
<link rel="icon" href="${ctx.hasLogo ? '/brand/logo' : '/assets/favicon.svg'}">
<link rel="stylesheet" href="/assets/portal.css">
<link rel="stylesheet" href="/brand/brand.css">
<link rel="stylesheet" href="/assets/admin.css">
${input.page === 'sign-in' ? html`<script src="/vendor/simplewebauthn-browser.js" defer></script>` : ''}
<script src="/assets/admin.js" defer></script>
${input.script ? html`<script src="/assets/${input.script}" defer></script>` : ''}
</head>
<body data-page="${input.page}" data-lang="${ctx.language}" data-permissions="${permissions}" data-csrf="${session?.csrf ?? ''}" data-messages="${scriptMessages(ctx.language)}"${data}>
<a class="skip-link" href="#main">${ctx.t('layout.skip')}</a>
<header class="banner">
  <div class="banner-inner console-banner">
    <a class="brand" href="/admin">${ctx.hasLogo ? html`<img src="/brand/logo" alt="" class="logo">` : ''}<span>${ctx.organisation} · ${ctx.t('admin.title')}</span></a>
    ${languageLinks(ctx)}
  </div>
</header>
${session ? navigation(ctx, session, input.section ?? null) : ''}
<main id="main" tabindex="-1" class="console-main">
<h1>${input.title}</h1>
<noscript><p class="notice">${ctx.t('admin.noscript')}</p></noscript>
<div id="console-error" class="error-summary" role="alert" hidden></div>
<p id="console-status" class="notice" role="status"></p>
${input.main}
</main>
</body>
</html>
`.text;
}

export function signInMain(ctx: ConsoleContext, notice: 'expired' | 'signed_out' | null): SafeHtml {
  return html`${notice ? html`<p class="notice notice-info" id="sign-in-notice">${ctx.t(notice === 'expired' ? 'admin.sign_in.expired' : 'admin.sign_in.signed_out')}</p>` : ''}
<p>${ctx.t('admin.sign_in.intro')}</p>
<form id="sign-in-password" class="console-form" novalidate>
  <div class="field"><label for="username">${ctx.t('admin.sign_in.username')}</label><input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required></div>
  <div class="field"><label for="password">${ctx.t('admin.sign_in.password')}</label><input type="password" id="password" name="password" autocomplete="current-password" required></div>
  <button type="submit" class="button">${ctx.t('admin.sign_in.continue')}</button>
</form>
<div id="sign-in-passkey" class="console-form passkey-choice" hidden>
  <p id="passkey-intro">${ctx.t('admin.sign_in.passkey.intro')}</p>
  <button type="button" class="button" id="passkey-button" aria-describedby="passkey-intro">${ctx.t('admin.sign_in.passkey')}</button>
  <p class="passkey-or" id="passkey-or">${ctx.t('admin.sign_in.or')}</p>
</div>
<form id="sign-in-code" class="console-form" novalidate hidden>
  <div class="field"><label for="code">${ctx.t('admin.sign_in.code')}</label><p class="hint" id="code-hint">${ctx.t('admin.sign_in.code.hint')}</p>
  <input type="text" id="code" name="code" class="code-input" inputmode="numeric" autocomplete="one-time-code" aria-describedby="code-hint" maxlength="16" required></div>
  <button type="submit" class="button">${ctx.t('admin.sign_in.submit')}</button>
</form>`;
}

const results = (id: string): SafeHtml => html`<div id="${id}" class="results" aria-live="polite"></div>`;

export function dashboardMain(ctx: ConsoleContext, session: ConsoleSession): SafeHtml {
  const reports = session.principal.permissions.has('reports:read');
  const alerts = session.principal.permissions.has('alerts:read');
  const chart = (id: string, title: MessageKey) => html`<section class="panel" aria-labelledby="${id}-title"><h2 id="${id}-title">${ctx.t(title)}</h2>${results(id)}</section>`;
  return html`${reports
    ? html`<p>${ctx.t('admin.dashboard.period')}</p>
<div class="panels">
${chart('chart-daily', 'admin.dashboard.daily')}
${chart('chart-method', 'admin.dashboard.by_method')}
${chart('chart-department', 'admin.dashboard.by_department')}
${chart('chart-coverage-department', 'admin.dashboard.coverage_department')}
${chart('chart-coverage-tier', 'admin.dashboard.coverage_tier')}
</div>`
    : html`<p class="notice">${ctx.t('admin.dashboard.no_reports')}</p>`}
${alerts ? chart('open-alerts', 'admin.dashboard.open_alerts') : ''}`;
}

export function accountsMain(ctx: ConsoleContext): SafeHtml {
  return html`<form id="account-search" class="console-form inline-form" role="search">
  <div class="field"><label for="query">${ctx.t('admin.accounts.search')}</label><input type="text" id="query" name="query" maxlength="256" autocomplete="off"></div>
  <button type="submit" class="button">${ctx.t('admin.accounts.search.submit')}</button>
</form>
${results('accounts-results')}`;
}

export function accountMain(ctx: ConsoleContext): SafeHtml {
  return html`<p><a href="/admin/accounts">${ctx.t('admin.account.back')}</a></p>${results('account-detail')}`;
}

export function auditMain(ctx: ConsoleContext): SafeHtml {
  const types = Object.keys(AUDIT_EVENT_TYPES).sort();
  return html`<form id="audit-filter" class="console-form filter-grid">
  <div class="field"><label for="since">${ctx.t('admin.audit.since')}</label><input type="datetime-local" id="since" name="since" step="1"></div>
  <div class="field"><label for="until">${ctx.t('admin.audit.until')}</label><input type="datetime-local" id="until" name="until" step="1"></div>
  <div class="field"><label for="subject">${ctx.t('admin.audit.account')}</label><input type="text" id="subject" name="subject" maxlength="200" autocomplete="off"></div>
  <div class="field"><label for="type">${ctx.t('admin.audit.type')}</label><select id="type" name="type"><option value="">${ctx.t('admin.audit.any')}</option>${types.map((type) => html`<option value="${type}">${type}</option>`)}</select></div>
  <div class="field"><label for="outcome">${ctx.t('admin.audit.outcome')}</label><select id="outcome" name="outcome"><option value="">${ctx.t('admin.audit.any')}</option>${['success', 'failure', 'info'].map((outcome) => html`<option value="${outcome}">${outcome}</option>`)}</select></div>
  <div class="field"><label for="ip">${ctx.t('admin.audit.ip')}</label><input type="text" id="ip" name="ip" maxlength="64" autocomplete="off"></div>
  <div class="actions"><button type="submit" class="button">${ctx.t('admin.audit.filter')}</button>
  <a class="button button-secondary" id="download-csv" href="/api/admin/audit?format=csv" download="audit.csv">${ctx.t('admin.audit.download_csv')}</a>
  <a class="button button-secondary" id="download-jsonl" href="/api/admin/audit?format=jsonl" download="audit.jsonl">${ctx.t('admin.audit.download_jsonl')}</a></div>
</form>
${results('audit-results')}`;
}

export function policyMain(ctx: ConsoleContext, session: ConsoleSession): SafeHtml {
  const editor = session.principal.permissions.has('policy:write');
  return html`${results('policy-current')}
<section aria-labelledby="policy-history-title"><h2 id="policy-history-title">${ctx.t('admin.policy.history')}</h2>${results('policy-history')}</section>
${editor
  ? html`<section aria-labelledby="policy-editor-title"><h2 id="policy-editor-title">${ctx.t('admin.policy.editor')}</h2>
<form id="policy-editor" class="console-form">
  <div class="field"><label for="policy-text">${ctx.t('admin.policy.text')}</label><textarea id="policy-text" name="text" rows="20" spellcheck="false"></textarea></div>
  <p><button type="button" class="button button-secondary" id="policy-simulate">${ctx.t('admin.policy.simulate')}</button></p>
  <div class="field"><label for="policy-reason">${ctx.t('admin.policy.reason')}</label><input type="text" id="policy-reason" name="reason" maxlength="500"></div>
  <button type="submit" class="button" id="policy-publish">${ctx.t('admin.policy.publish')}</button>
</form>
${results('policy-result')}</section>`
  : ''}`;
}

export function alertsMain(ctx: ConsoleContext): SafeHtml {
  return html`<form id="alerts-filter" class="console-form inline-form">
  <div class="field"><label for="alert-status">${ctx.t('admin.alerts.status')}</label><select id="alert-status" name="status"><option value="">${ctx.t('admin.audit.any')}</option>${ALERT_STATUSES.map((status) => html`<option value="${status}"${status === 'open' ? html` selected` : ''}>${status}</option>`)}</select></div>
  <button type="submit" class="button">${ctx.t('admin.alerts.show')}</button>
</form>
${results('alerts-results')}`;
}

export function outboxMain(ctx: ConsoleContext): SafeHtml {
  return html`<p>${ctx.t('admin.outbox.intro')}</p>${results('outbox-results')}`;
}

export function messageMain(text: string): SafeHtml {
  return html`<p>${text}</p>`;
}
