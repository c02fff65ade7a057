import { html, type SafeHtml } from '../html.ts';
import type { ConsoleContext, ConsoleSession } from './admin-views.ts';

/*
 * Shells of the console's governance sections: recovery paths and findings, break-glass accounts,
 * privileged holds. The data and every action come from the admin API through
 * assets/admin-governance.js; what is drawn here only depends on the permissions the session holds.
 */

const results = (id: string): SafeHtml => html`<div id="${id}" class="results" aria-live="polite"></div>`;

export function recoveryPathsMain(ctx: ConsoleContext): SafeHtml {
  return html`<p>${ctx.t('admin.gov.paths.intro')}</p>
<p id="paths-version" class="notice"></p>
<section aria-labelledby="paths-tiers-title"><h2 id="paths-tiers-title">${ctx.t('admin.gov.paths.tiers')}</h2>${results('paths-results')}</section>
<section aria-labelledby="account-findings-title"><h2 id="account-findings-title">${ctx.t('admin.gov.paths.account_findings')}</h2>
<p>${ctx.t('admin.gov.paths.account_findings.intro')}</p>${results('account-findings')}</section>`;
}

export function breakGlassMain(ctx: ConsoleContext, session: ConsoleSession): SafeHtml {
  const operate = session.principal.permissions.has('breakglass:operate');
  return html`<section aria-labelledby="breakglass-status-title"><h2 id="breakglass-status-title">${ctx.t('admin.gov.bg.status')}</h2>${results('breakglass-status')}</section>
${operate
  ? html`<section aria-labelledby="breakglass-open-title" class="action-form"><h2 id="breakglass-open-title">${ctx.t('admin.gov.bg.open')}</h2>
<p>${ctx.t('admin.gov.bg.open.intro')}</p>
<form id="breakglass-start" class="console-form" method="post" novalidate>
  <div class="field"><label for="breakglass-account">${ctx.t('admin.gov.bg.account')}</label><input type="text" id="breakglass-account" name="account" maxlength="256" autocomplete="off" autocapitalize="none" spellcheck="false" required></div>
  <div class="field"><label for="breakglass-reason">${ctx.t('admin.gov.bg.reason')}</label><p class="hint" id="breakglass-reason-hint">${ctx.t('admin.gov.bg.reason.hint')}</p><input type="text" id="breakglass-reason" name="reason" maxlength="500" aria-describedby="breakglass-reason-hint" required></div>
  <button type="submit" class="button">${ctx.t('admin.gov.bg.start')}</button>
</form>
<form id="breakglass-join" class="console-form inline-form" method="post" novalidate>
  <div class="field"><label for="breakglass-opening">${ctx.t('admin.gov.bg.join.id')}</label><input type="text" id="breakglass-opening" name="opening" maxlength="36" autocomplete="off" spellcheck="false"></div>
  <button type="submit" class="button button-secondary">${ctx.t('admin.gov.bg.join')}</button>
</form>
${results('breakglass-opening-view')}
</section>`
  : html`<p class="notice notice-info" id="breakglass-read-only">${ctx.t('admin.gov.bg.read_only')}</p>`}`;
}

export function privilegedHoldsMain(ctx: ConsoleContext): SafeHtml {
  return html`<p>${ctx.t('admin.gov.holds.intro')}</p>
<form id="holds-filter" class="console-form inline-form" method="get">
  <div class="field"><label for="hold-status">${ctx.t('admin.gov.holds.status')}</label><select id="hold-status" name="status"><option value="">${ctx.t('admin.audit.any')}</option>${(['held', 'unconfirmed', 'confirmed'] as const).map((status) => html`<option value="${status}"${status === 'held' ? html` selected` : ''}>${ctx.t(`admin.gov.holds.status.${status}`)}</option>`)}</select></div>
  <button type="submit" class="button">${ctx.t('admin.alerts.show')}</button>
</form>
${results('holds-results')}`;
}
