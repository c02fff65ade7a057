import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDomainError } from '../../../core/errors.ts';
import type { ReconfirmationDue } from '../../../core/lifecycle/rules.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../../http/app.ts';
import { LANGUAGES } from '../i18n/catalog.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout, type PageContext, type PageErrors } from '../views.ts';
import type { PortalToolkit } from './routes.ts';
import type { SignedIn } from './travel.ts';

/** Methods re-confirmed from these pages with a code; a passkey's re-confirmation is left to the API (docs/portal.md). */
export const RECONFIRMABLE = new Set(['email_code', 'sms_code', 'totp']);
type CodeMethod = 'email_code' | 'sms_code' | 'totp';

const csrfField = z.string().max(256).optional();
const languageQuery = z.object({ lang: z.enum(LANGUAGES).optional() }).strict();
const enrollmentParam = z.object({ id: z.uuid() }).strict();
const seeOther = (reply: FastifyReply, path: string): FastifyReply => reply.code(303).header('location', path).send();
const csrfInput = (ctx: PageContext): SafeHtml => html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
const page = (ctx: PageContext, title: string, main: SafeHtml, errors?: PageErrors): string => layout(ctx, title, html`<link rel="stylesheet" href="/assets/me.css">${main}`, errors);

/** The "Confirm it is still yours" button of a method on /me. */
export function reconfirmButton(ctx: PageContext, id: string, name: string): SafeHtml {
  return html`<form method="post" action="/me/methods/${id}/reconfirm">${csrfInput(ctx)}<button type="submit" class="button" aria-label="${ctx.t('me.reconfirm.button.label', { name })}">${ctx.t('me.reconfirm.button')}</button></form>`;
}

/** The prompt on /me listing the methods whose re-confirmation is due or lapsed. */
export function reconfirmPrompt(ctx: PageContext, due: readonly ReconfirmationDue[]): SafeHtml {
  if (due.length === 0) return html``;
  return html`<div class="prompt reconfirm-prompt" role="status"><p><strong>${ctx.t('me.reconfirm.prompt')}</strong></p>
<ul>${due.map((item) => html`<li data-reconfirm="${item.id}">${ctx.t(`me.name.${item.method}`)}${item.method !== 'recovery_code' ? ` (${item.label})` : ''}: ${ctx.t(item.status === 'lapsed' ? 'me.reconfirm.lapsed' : 'me.reconfirm.due')}</li>`)}</ul></div>`;
}

function codePage(ctx: PageContext, id: string, reconfirmationId: string, method: CodeMethod, errors?: PageErrors): string {
  return page(
    ctx,
    ctx.t('me.reconfirm.title', { name: ctx.t(`me.name.${method}`) }),
    html`<form method="post" action="/me/methods/${id}/reconfirm/verify" novalidate>
  ${csrfInput(ctx)}<input type="hidden" name="reconfirmationId" value="${reconfirmationId}">
  <div class="field">
    <label for="code">${ctx.t('me.verify.code')}</label>
    <p class="hint" id="code-hint">${ctx.t(`me.reconfirm.intro.${method}`)}</p>
    <input id="code" name="code" type="text" class="code-input" inputmode="numeric" autocomplete="one-time-code" spellcheck="false" maxlength="64" required aria-describedby="code-hint"${errors ? html` aria-invalid="true"` : ''}>
  </div>
  <button type="submit" class="button">${ctx.t('me.verify.submit')}</button>
</form>
<p><a href="/me">${ctx.t('me.title')}</a></p>`,
    errors,
  );
}

/**
 * Re-confirmation from /me: the button starts it (a code is sent to the address or phone; an
 * authenticator app shows its own), the code form completes it, and the person lands on a page
 * saying the method is confirmed. A wrong code shows the form again (422) with the error.
 */
export function registerReconfirmPages(pages: FastifyInstance, latchkey: Latchkey, kit: PortalToolkit, signedIn: SignedIn): void {
  const typed = pages.withTypeProvider<ZodTypeProvider>();
  const { selfService } = latchkey;
  const { sendPage } = kit;

  const codeMethodOf = async (token: string, id: string): Promise<CodeMethod | null> => {
    const found = (await selfService.listMethods(token)).methods.find((method) => method.id === id);
    return found && RECONFIRMABLE.has(found.method) ? (found.method as CodeMethod) : null;
  };

  typed.post('/me/methods/:id/reconfirm', { schema: { hide: true, params: enrollmentParam, body: z.object({ _csrf: csrfField }).strict() } }, async (request, reply) =>
    signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me' }, async (token, ctx) => {
      const method = await codeMethodOf(token, request.params.id);
      if (method === null) return seeOther(reply, '/me');
      const started = await selfService.beginReconfirmation(token, request.params.id, requestContext(request));
      return sendPage(reply, codePage(ctx, request.params.id, started.reconfirmationId, method));
    }),
  );

  typed.post(
    '/me/methods/:id/reconfirm/verify',
    { schema: { hide: true, params: enrollmentParam, body: z.object({ _csrf: csrfField, reconfirmationId: z.uuid(), code: z.string().max(64).optional() }).strict() } },
    async (request, reply) =>
      signedIn(request, reply, { csrf: request.body._csrf, backTo: '/me' }, async (token, ctx) => {
        const method = await codeMethodOf(token, request.params.id);
        if (method === null) return seeOther(reply, '/me');
        try {
          await selfService.completeReconfirmation(token, request.params.id, request.body.reconfirmationId, (request.body.code ?? '').trim(), requestContext(request));
        } catch (error) {
          if (!isDomainError(error) || error.code !== 'challenge.invalid') throw error;
          return sendPage(reply, codePage(ctx, request.params.id, request.body.reconfirmationId, method, { items: [{ message: ctx.t('error.challenge.invalid'), field: 'code' }], stuck: false }), 422);
        }
        return seeOther(reply, `/me/methods/${request.params.id}/reconfirmed`);
      }),
  );

  typed.get('/me/methods/:id/reconfirmed', { schema: { hide: true, params: enrollmentParam, querystring: languageQuery } }, async (request, reply) =>
    signedIn(request, reply, { backTo: '/me' }, async (token, ctx) => {
      const found = (await selfService.listMethods(token)).methods.find((method) => method.id === request.params.id);
      if (!found || found.reconfirmation?.status !== 'current') return seeOther(reply, '/me');
      const name = ctx.t(`me.name.${found.method}`);
      return sendPage(reply, page(ctx, ctx.t('me.reconfirm.done.title'), html`<div class="notice" role="status"><p>${ctx.t('me.reconfirm.done', { name: `${name} (${found.label})` })}</p></div><p><a class="button" href="/me">${ctx.t('me.title')}</a></p>`));
    }),
  );
}
