/**
 * Landing URL macros (SPEC §4): `{click_id}`, `{sub1}`…`{sub10}`, `{affiliate_id}`, `{brand_id}`,
 * `{campaign}`, each replaced by its URL-encoded value. A template without `{click_id}` gets
 * `click_id=<id>` appended to its query. Templates are compiled once into literal parts and macro
 * slots, so a redirect only concatenates.
 */
import { memoized } from './memo.ts';

/** Values for a template's macros. */
export interface MacroValues {
  click_id: string;
  affiliate_id: string;
  brand_id: string;
  campaign: string;
  subs: readonly string[];
}

type Slot = (v: MacroValues) => string;

const MACRO = /\{(click_id|affiliate_id|brand_id|campaign|sub(?:10|[1-9]))\}/g;

function slot(name: string): Slot {
  if (name === 'click_id') return (v) => v.click_id;
  if (name.startsWith('sub')) {
    const i = Number(name.slice(3)) - 1;
    return (v) => encodeURIComponent(v.subs[i] ?? '');
  }
  const key = name as 'affiliate_id' | 'brand_id' | 'campaign';
  return (v) => encodeURIComponent(v[key]);
}

function compile(template: string): (v: MacroValues) => string {
  let hasClickId = false;
  const hash = template.indexOf('#');
  const base = hash < 0 ? template : template.slice(0, hash);
  const fragment = hash < 0 ? '' : template.slice(hash);
  const parts: Array<string | Slot> = [];
  let last = 0;
  for (const m of base.matchAll(MACRO)) {
    parts.push(base.slice(last, m.index));
    parts.push(slot(m[1] as string));
    if (m[1] === 'click_id') hasClickId = true;
    last = (m.index as number) + m[0].length;
  }
  parts.push(base.slice(last));
  if (!hasClickId) {
    const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
    parts.push(`${sep}click_id=`, (v) => v.click_id);
  }
  parts.push(fragment);
  return (v) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(v);
    return out;
  };
}

/** The compiled form of a landing template (cached). */
export const compileLanding = memoized(compile, 100_000);

/** Expand a landing template. */
export function expandLanding(template: string, v: MacroValues): string {
  return compileLanding(template)(v);
}
