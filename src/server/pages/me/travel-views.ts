import type { TravelOverview, TripView } from '../../../core/travel/service.ts';
import type { MessageKey } from '../i18n/catalog.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout, type PageContext, type PageErrors } from '../views.ts';

export type TravelField = 'countries' | 'from' | 'to';
/** What the person typed, shown again when the form has to be fixed. */
export type TravelForm = Partial<Record<TravelField, string>>;

const csrfField = (ctx: PageContext): SafeHtml => html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;

function countryNames(ctx: PageContext, codes: readonly string[]): string {
  const names = new Intl.DisplayNames([ctx.language], { type: 'region' });
  return codes.map((code) => `${names.of(code) ?? code} (${code})`).join(', ');
}

function day(ctx: PageContext, date: string): string {
  return new Intl.DateTimeFormat(ctx.language, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${date}T00:00:00Z`));
}

function tripItem(ctx: PageContext, trip: TripView): SafeHtml {
  const cancellable = trip.status === 'upcoming' || trip.status === 'in_force';
  const dates = ctx.t('me.travel.dates', { from: day(ctx, trip.from), to: day(ctx, trip.to) });
  return html`<li class="method trip" data-trip="${trip.id}" data-status="${trip.status}">
  <div class="method-text"><strong>${countryNames(ctx, trip.countries)}</strong>
  <ul class="method-facts"><li>${dates}</li><li>${ctx.t(`me.travel.status.${trip.status}`)}</li></ul></div>
  <div class="method-actions">${
    cancellable
      ? html`<form method="post" action="/me/travel/${trip.id}/cancel">${csrfField(ctx)}<button type="submit" class="button button-secondary" aria-label="${ctx.t('me.travel.cancel.label', { trip: `${trip.countries.join(', ')} ${dates}` })}">${ctx.t('me.travel.cancel')}</button></form>`
      : ''
  }</div>
</li>`;
}

function withoutSignal(ctx: PageContext, overview: TravelOverview): SafeHtml {
  const methods = overview.methodsWithoutSignal;
  const list =
    methods.length === 0
      ? html``
      : html`<ul class="no-signal" id="no-signal">${methods.map((method) => html`<li data-method="${method.method}">${ctx.t(`me.name.${method.method}`)}${method.method !== 'recovery_code' && method.label ? html` <span class="method-label">${method.label}</span>` : ''}</li>`)}</ul>`;
  const warning: MessageKey | null = methods.length === 0 ? 'me.travel.signal.none' : overview.enoughWithoutSignal ? null : 'me.travel.signal.few';
  return html`<h2>${ctx.t('me.travel.signal.heading')}</h2>
<p>${ctx.t('me.travel.signal.intro')}</p>
${list}
${warning ? html`<div class="prompt travel-warning" role="status"><p><strong>${ctx.t(warning)}</strong></p><p><a href="/me">${ctx.t('me.travel.signal.add')}</a></p></div>` : html`<p class="travel-enough">${ctx.t('me.travel.signal.enough')}</p>`}`;
}

/** The travel page: the without-signal checklist, the declared trips (cancel one) and the form to declare one. */
export function travelPage(ctx: PageContext, overview: TravelOverview, errors: PageErrors, notice: MessageKey | null, form: TravelForm): string {
  const invalid = (field: TravelField): SafeHtml => (errors.items.some((item) => item.field === field) ? html` aria-invalid="true"` : html``);
  const main = html`<link rel="stylesheet" href="/assets/me.css">${notice ? html`<div class="notice" role="status"><p>${ctx.t(notice)}</p></div>` : ''}
<p>${ctx.t('me.travel.intro')}</p>
${withoutSignal(ctx, overview)}
<h2>${ctx.t('me.travel.list.heading')}</h2>
${overview.trips.length === 0 ? html`<p>${ctx.t('me.travel.none')}</p>` : html`<ul class="methods trips">${overview.trips.map((trip) => tripItem(ctx, trip))}</ul>`}
<h2 id="declare-heading">${ctx.t('me.travel.declare.heading')}</h2>
<form method="post" action="/me/travel" novalidate aria-labelledby="declare-heading">
  ${csrfField(ctx)}
  <div class="field">
    <label for="countries">${ctx.t('me.travel.field.countries')}</label>
    <p class="hint" id="countries-hint">${ctx.t('me.travel.hint.countries')}</p>
    <input id="countries" name="countries" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="200" required aria-describedby="countries-hint" value="${form.countries ?? ''}"${invalid('countries')}>
  </div>
  <div class="field">
    <label for="from">${ctx.t('me.travel.field.from')}</label>
    <p class="hint" id="from-hint">${ctx.t('me.travel.hint.date')}</p>
    <input id="from" name="from" type="date" required aria-describedby="from-hint" value="${form.from ?? ''}"${invalid('from')}>
  </div>
  <div class="field">
    <label for="to">${ctx.t('me.travel.field.to')}</label>
    <p class="hint" id="to-hint">${ctx.t('me.travel.hint.date')}</p>
    <input id="to" name="to" type="date" required aria-describedby="to-hint" value="${form.to ?? ''}"${invalid('to')}>
  </div>
  <button type="submit" class="button">${ctx.t('me.travel.declare.submit')}</button>
</form>
<p><a href="/me">${ctx.t('me.title')}</a></p>`;
  return layout(ctx, ctx.t('me.travel.title'), main, errors);
}
