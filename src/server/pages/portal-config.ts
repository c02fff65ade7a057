import { z } from 'zod';
import { LANGUAGES } from './i18n/catalog.ts';

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour in #rrggbb form');

/**
 * `portal`: where the pages are published and how they are branded. Validated with the rest of the
 * configuration at start, so a bad colour or link is a start-up error naming the key.
 */
export const portalConfigSchema = z
  .object({
    publicUrl: z
      .url()
      .regex(/^https?:\/\/[^/?#]+\/?$/, 'must be an origin such as https://reset.example.com (no path)')
      .optional()
      .describe('The address people open. https:// means TLS in front: cookies get Secure and the __Host- prefix, and HSTS is sent.'),
    defaultLanguage: z.enum(LANGUAGES).default('en').describe('Language when the browser asks for none we have.'),
    branding: z
      .object({
        organisationName: z.string().min(1).max(100).optional().describe('Shown in the header and titles; unset means the policy’s organisationName.'),
        logoFile: z.string().regex(/\.(png|svg|webp)$/i, 'must name a .png, .svg or .webp file').optional().describe('A PNG, SVG or WebP file served as the logo from this server (pages load nothing from other origins).'),
        primaryColour: colour.default('#1d4ed8').describe('Buttons, links and focus ring.'),
        primaryTextColour: colour.default('#ffffff').describe('Text on primary-coloured buttons; keep a 4.5:1 contrast.'),
        headerColour: colour.default('#0f172a').describe('Header background.'),
        headerTextColour: colour.default('#ffffff').describe('Header text.'),
      })
      .strict()
      .prefault({}),
    helpdesk: z
      .object({
        url: z
          .url()
          .regex(/^(https?:|mailto:|tel:)/, 'must be an https:, http:, mailto: or tel: link')
          .optional()
          .describe('Where a person who is stuck gets help.'),
        text: z.string().min(1).max(200).optional().describe('How to reach the helpdesk, e.g. “Call +49 30 1234 567, weekdays 8–18”.'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type PortalConfig = z.infer<typeof portalConfigSchema>;

/** Whether people reach the server over TLS (a terminating proxy in front counts): cookies get Secure, replies HSTS. */
export const servedOverTls = (portal: PortalConfig): boolean => portal.publicUrl?.startsWith('https://') ?? false;
