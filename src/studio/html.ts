/**
 * HTML built by a tagged template that escapes every interpolated value unless it is already `Html`.
 * Message content, names and topics are attacker-controlled: nothing reaches a page unescaped, so a
 * message `<script>` renders as text. Only constants of this package are ever wrapped as `Html` raw.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlPart = Html | string | number | bigint | boolean | null | undefined | readonly HtmlPart[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function render(part: HtmlPart): string {
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  if (part === null || part === undefined || part === false) return '';
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: HtmlPart[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Trusted markup (constants and SVG this package generates from numbers). Never user data. */
export const trusted = (markup: string): Html => new Html(markup);

/** A path with a query string; values are URL-encoded, empty ones dropped. */
export function href(
  path: string,
  query: Record<string, string | number | readonly string[] | null | undefined> = {},
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === '') continue;
    if (typeof value === 'string' || typeof value === 'number') params.append(key, String(value));
    else for (const v of value) params.append(key, v);
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export const seg = (value: string): string => encodeURIComponent(value);

export interface LayoutOptions {
  title: string;
  write: boolean;
  csrf: string;
  active?: 'dashboard' | 'servers' | 'entities' | 'users';
}

const NAV: { key: LayoutOptions['active']; label: string; path: string }[] = [
  { key: 'dashboard', label: 'Dashboard', path: '/' },
  { key: 'servers', label: 'Servers', path: '/servers' },
  { key: 'users', label: 'Users', path: '/users' },
  { key: 'entities', label: 'Tables', path: '/entities' },
];

export function layout(options: LayoutOptions, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${options.write ? html`<meta name="csrf-token" content="${options.csrf}" />` : ''}
        <link rel="icon" href="data:," />
        <title>${options.title} · CRYB studio</title>
        <link rel="stylesheet" href="/static/studio.css" />
        <script src="/static/studio.js" defer></script>
      </head>
      <body>
        <header>
          <a class="brand" href="/">CRYB studio</a>
          <nav>
            ${NAV.map(
              (n) =>
                html`<a href="${n.path}" ${n.key === options.active ? trusted(' class="active"') : ''}>${n.label}</a>`,
            )}
          </nav>
          <span class="mode ${options.write ? 'write' : 'read'}"
            >${options.write ? 'write mode: domain actions enabled' : 'read-only'}</span
          >
        </header>
        <main>
          <h1>${options.title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

/** A hidden CSRF field for forms that POST (write mode only). */
export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}" />`;

export function table(headers: HtmlPart[], rows: HtmlPart[][], options: { empty?: string; cls?: string } = {}): Html {
  if (rows.length === 0) return html`<p class="empty">${options.empty ?? 'nothing here'}</p>`;
  return html`<table class="${options.cls ?? 'grid'}">
    <thead>
      <tr>
        ${headers.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((c) => html`<td>${c}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const DONE: Record<string, string> = {
  kicked: 'Member kicked.',
  banned: 'Member banned.',
  deleted: 'Message deleted.',
};

/** The line a write action leaves after its redirect (`?done=`). */
export const doneNotice = (query: URLSearchParams): Html => {
  const text = DONE[query.get('done') ?? ''];
  return text ? html`<p class="notice" role="status">${text}</p>` : html``;
};
