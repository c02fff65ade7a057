import type { LightMyRequestResponse } from 'fastify';
import type { Harness } from '../support/harness.ts';

/** One Set-Cookie header, parsed: name, value and attributes (lower-cased names). */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: ReadonlyMap<string, string>;
}

export function parseSetCookies(response: LightMyRequestResponse): SetCookie[] {
  const header = response.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
  return lines.map((line) => {
    const [pair = '', ...rest] = line.split(';');
    const eq = pair.indexOf('=');
    const attributes = new Map(
      rest.map((part) => {
        const [key = '', ...value] = part.trim().split('=');
        return [key.toLowerCase(), value.join('=')] as const;
      }),
    );
    return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
  });
}

/** The CSRF token a page embeds in its forms. */
export const csrfOf = (page: string): string => {
  const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!token) throw new Error('the page has no CSRF field');
  return token;
};

/**
 * A browser without a browser: drives the portal through Fastify's injector with a cookie jar,
 * so page tests see exactly the status, headers and cookies a browser would.
 */
export class PageClient {
  readonly cookies = new Map<string, string>();
  constructor(
    private readonly h: Harness,
    private readonly headers: Record<string, string> = {},
  ) {}

  private remember(response: LightMyRequestResponse): LightMyRequestResponse {
    for (const cookie of parseSetCookies(response)) {
      const expired = cookie.attributes.get('max-age') === '0' || (cookie.attributes.has('expires') && new Date(cookie.attributes.get('expires') ?? '').getTime() < Date.now());
      if (expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    return response;
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.remember(await this.h.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1', headers: { ...this.headers, ...this.cookieHeader(), ...headers } }));
  }

  /** Posts a form; `csrf: true` takes the token from the page at `from` first (as a browser would have it). */
  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.remember(
      await this.h.app.inject({
        method: 'POST',
        url,
        remoteAddress: '127.0.0.1',
        headers: { ...this.headers, ...this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(form).toString(),
      }),
    );
  }

  async postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.remember(
      await this.h.app.inject({ method: 'POST', url, remoteAddress: '127.0.0.1', headers: { ...this.headers, ...this.cookieHeader(), 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) }),
    );
  }

  /** Follows a 303 like a browser: GET the location. */
  async follow(response: LightMyRequestResponse): Promise<LightMyRequestResponse> {
    if (response.statusCode !== 303) throw new Error(`expected a redirect, got ${response.statusCode}: ${response.body.slice(0, 300)}`);
    return this.get(String(response.headers.location));
  }

  /** GETs `page`, then posts `form` with the page's CSRF token and follows the redirect. */
  async submit(page: string, action: string, form: Record<string, string>): Promise<LightMyRequestResponse> {
    const shown = await this.get(page);
    return this.follow(await this.post(action, { _csrf: csrfOf(shown.body), ...form }));
  }
}
