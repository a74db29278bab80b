/**
 * Folder listings of `sockit http serve`: an HTML page for people, JSON for programs
 * (`Accept: application/json`). Names are escaped for HTML and percent-encoded in links.
 */
import { formatBytes } from '../runtime/units.js';

export interface ListingEntry {
  name: string;
  folder: boolean;
  /** Bytes, for a regular file. */
  size: number | undefined;
  mtimeMs: number;
  link: boolean;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

/** Folders first, then files, each by name. */
function ordered(entries: readonly ListingEntry[]): ListingEntry[] {
  return [...entries].sort((a, b) =>
    a.folder === b.folder ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.folder ? -1 : 1,
  );
}

export function listingJson(urlPath: string, entries: readonly ListingEntry[]): string {
  const items = ordered(entries).map((e) => ({
    name: e.name,
    type: e.folder ? 'folder' : 'file',
    ...(e.size === undefined ? {} : { size: e.size }),
    modified: new Date(e.mtimeMs).toISOString(),
  }));
  return `${JSON.stringify({ path: urlPath.endsWith('/') ? urlPath : `${urlPath}/`, entries: items })}\n`;
}

export function listingHtml(urlPath: string, entries: readonly ListingEntry[]): string {
  const base = urlPath.endsWith('/') ? urlPath : `${urlPath}/`;
  const title = escapeHtml(decodeURIComponent(base));
  const rows = ordered(entries).map((e) => {
    const href = `${encodeURIComponent(e.name)}${e.folder ? '/' : ''}`;
    const shown = escapeHtml(e.name) + (e.folder ? '/' : '');
    const size = e.size === undefined ? '' : formatBytes(e.size);
    const when = new Date(e.mtimeMs).toISOString().slice(0, 16).replace('T', ' ');
    return `<tr><td><a href="${href}">${shown}</a></td><td class="n">${size}</td><td>${when}</td></tr>`;
  });
  const up = base === '/' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td></tr>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of ${title}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:1.5rem;max-width:60rem}table{border-collapse:collapse;width:100%}
td{padding:.2rem .8rem .2rem 0;white-space:nowrap}td:first-child{white-space:normal;word-break:break-all}.n{text-align:right}
a{text-decoration:none}a:hover{text-decoration:underline}</style></head>
<body><h1>Index of ${title}</h1>
<table>${up}${rows.join('\n')}</table></body></html>
`;
}
