/**
 * Landing URL macros (SPEC §4): `{click_id}`, `{sub1}`…`{sub10}`, `{affiliate_id}`, `{brand_id}`,
 * `{campaign}`, each replaced by its URL-encoded value. A template without `{click_id}` gets
 * `click_id=<id>` appended to its query.
 */

/** Values for a template's macros. */
export interface MacroValues {
  click_id: string;
  affiliate_id: string;
  brand_id: string;
  campaign: string;
  subs: readonly string[];
}

const MACRO = /\{(click_id|affiliate_id|brand_id|campaign|sub(?:10|[1-9]))\}/g;

/** Expand a landing template. */
export function expandLanding(template: string, v: MacroValues): string {
  let hasClickId = false;
  const out = template.replace(MACRO, (_m, name: string) => {
    if (name === 'click_id') {
      hasClickId = true;
      return v.click_id;
    }
    if (name.startsWith('sub')) return encodeURIComponent(v.subs[Number(name.slice(3)) - 1] ?? '');
    return encodeURIComponent(v[name as 'affiliate_id' | 'brand_id' | 'campaign']);
  });
  if (hasClickId) return out;
  const hash = out.indexOf('#');
  const base = hash < 0 ? out : out.slice(0, hash);
  const frag = hash < 0 ? '' : out.slice(hash);
  const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${sep}click_id=${v.click_id}${frag}`;
}
