import QRCode from 'qrcode';
import { html, type SafeHtml } from '../html.ts';

/** Quiet zone in modules, as the QR specification asks. */
const QUIET_ZONE = 4;

/**
 * A QR code as inline SVG markup built from the code's module matrix. Inline, because the page CSP
 * allows images only from this server (no `data:` URLs) and a key shown once must not sit at a URL
 * either; built through the `html` tag, so nothing in it is markup that was not escaped (the path
 * data is digits and letters only).
 */
export function qrSvg(text: string, label: string): SafeHtml {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const size = modules.size;
  let path = '';
  for (let row = 0; row < size; row += 1) {
    for (let column = 0; column < size; column += 1) {
      if (modules.get(row, column)) path += `M${column + QUIET_ZONE} ${row + QUIET_ZONE}h1v1h-1z`;
    }
  }
  const extent = size + QUIET_ZONE * 2;
  return html`<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${extent} ${extent}" role="img" aria-label="${label}" shape-rendering="crispEdges"><rect width="${extent}" height="${extent}" fill="#ffffff"/><path d="${path}" fill="#000000"/></svg>`;
}
