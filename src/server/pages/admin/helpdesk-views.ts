import { DAY_ONE_DELIVERIES } from '../../../core/dayone/service.ts';
import type { Policy } from '../../../core/policy/schema.ts';
import { html, type SafeHtml } from '../html.ts';
import type { ConsoleContext } from './admin-views.ts';

const results = (id: string): SafeHtml => html`<div id="${id}" class="results" aria-live="polite"></div>`;

/**
 * The helpdesk page's shell: the look-up form, a region the script fills with the person (methods,
 * recent attempts, live pass, verification), and the issue form with the policy's bounds. The pass
 * itself only ever exists in the script's memory after the issuing POST: nothing here can show it again.
 */
export function helpdeskMain(ctx: ConsoleContext, bounds: Policy['temporaryAccessPass']): SafeHtml {
  const minutes = (seconds: number): number => Math.max(1, Math.round(seconds / 60));
  return html`<p>${ctx.t('admin.helpdesk.intro')}</p>
<form id="helpdesk-lookup" class="console-form inline-form" role="search">
  <div class="field"><label for="identifier">${ctx.t('admin.helpdesk.lookup')}</label><input type="text" id="identifier" name="identifier" maxlength="256" autocomplete="off" autocapitalize="none" spellcheck="false" required></div>
  <button type="submit" class="button">${ctx.t('admin.helpdesk.lookup.submit')}</button>
</form>
${results('helpdesk-person')}
<section id="helpdesk-verify" class="action-form" aria-labelledby="helpdesk-verify-title" hidden>
  <h2 id="helpdesk-verify-title">${ctx.t('admin.helpdesk.verify')}</h2>
  ${results('helpdesk-verification')}
</section>
<section id="helpdesk-issue" class="action-form" aria-labelledby="helpdesk-issue-title" hidden>
  <h2 id="helpdesk-issue-title">${ctx.t('admin.helpdesk.issue')}</h2>
  <p class="notice notice-ok" id="helpdesk-verified">${ctx.t('admin.helpdesk.verified')}</p>
  <form id="issue-form" class="console-form inline-form" novalidate>
    <div class="field"><label for="issue-lifetime">${ctx.t('admin.helpdesk.lifetime', { min: minutes(bounds.minLifetimeSeconds), max: minutes(bounds.maxLifetimeSeconds) })}</label>
    <input type="number" id="issue-lifetime" name="lifetimeMinutes" min="${minutes(bounds.minLifetimeSeconds)}" max="${minutes(bounds.maxLifetimeSeconds)}" step="1" value="${minutes(bounds.defaultLifetimeSeconds)}" required></div>
    <div class="field"><label for="issue-uses">${ctx.t('admin.helpdesk.uses', { max: bounds.maxUses })}</label>
    <input type="number" id="issue-uses" name="uses" min="1" max="${bounds.maxUses}" step="1" value="${bounds.defaultUses}" required></div>
    <button type="submit" class="button">${ctx.t('admin.helpdesk.issue.submit')}</button>
  </form>
</section>
<section id="pass-shown" class="pass-panel" aria-labelledby="pass-shown-title" tabindex="-1" hidden>
  <h2 id="pass-shown-title">${ctx.t('admin.helpdesk.pass.title')}</h2>
  <p class="pass-warning" id="pass-warning">${ctx.t('admin.helpdesk.pass.warning')}</p>
  <p class="pass-value" id="pass-value" aria-describedby="pass-warning"></p>
  <p id="pass-validity"></p>
  <button type="button" class="button" id="pass-copy">${ctx.t('admin.helpdesk.pass.copy')}</button>
</section>`;
}

/** The day-one page's shell: the file, the delivery choice and a region for the issued rows (never a pass). */
export function dayOneMain(ctx: ConsoleContext): SafeHtml {
  return html`<p>${ctx.t('admin.dayone.intro')}</p>
<form id="dayone-form" class="console-form" novalidate>
  <div class="field"><label for="dayone-file">${ctx.t('admin.dayone.file')}</label><input type="file" id="dayone-file" name="file" accept=".csv,text/csv" required></div>
  <fieldset class="field"><legend>${ctx.t('admin.dayone.delivery')}</legend>
  ${DAY_ONE_DELIVERIES.map((delivery) => html`<div class="radio"><input type="radio" id="delivery-${delivery}" name="delivery" value="${delivery}"${delivery === 'split' ? html` checked` : ''}><label for="delivery-${delivery}">${ctx.t(`admin.dayone.delivery.${delivery}`)}</label></div>`)}
  </fieldset>
  <button type="submit" class="button">${ctx.t('admin.dayone.submit')}</button>
</form>
${results('dayone-result')}`;
}
