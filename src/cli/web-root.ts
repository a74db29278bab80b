/** Where the built browser pages are, beside the bundled command. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * dist/web/PAGE (scripts/build-web.mjs: `chat`, `dashboard`), when it was built: the bundled
 * command lives in dist/cli/one/ (or dist/cli/chunks/), two folders below dist/. Run from the
 * sources, this names web/PAGE, whose unbuilt page is not served.
 */
export function webRoot(page: 'chat' | 'dashboard'): string | undefined {
  const dir = fileURLToPath(new URL(`../../web/${page}/`, import.meta.url));
  const index = `${dir}index.html`;
  if (!existsSync(index) || readFileSync(index, 'utf8').includes('{{')) return undefined;
  return dir;
}
