/**
 * The attribution rules file (docs/configuration.md, “Attribution rules file”): which attribution model each brand uses, under a version
 * that every attribution records. JSON, for example
 *
 * ```json
 * {"version": "2026-11-21.1", "default": {"model": "last_click"},
 *  "brands": {"b1": {"model": "position", "weights": [40, 20, 40]}}}
 * ```
 *
 * Parsed and validated here, once, for the worker that watches the file and for the partition
 * messages that carry the rules into every partition's ordered input (workers/runtime/rules.ts).
 * Rejections name the key inside the file, the value and what is allowed.
 */
import { RulesError } from './errors.ts';
import { isId } from './config.ts';

/** Attribution models. */
export const ATTRIBUTION_MODELS = ['last_click', 'first_click', 'linear', 'position'] as const;

/** An attribution model: the quoted click, the first touch, all touches equally, or first/middle/last shares. */
export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number];

/** Shares in whole percent of the first touch, all middle touches together, and the last touch. */
export type PositionWeights = readonly [first: number, middle: number, last: number];

/** The model of a brand (or the default), as written in the file. */
export interface ModelRule {
  model: AttributionModel;
  /** `position` only; default [40, 20, 40]. */
  weights?: PositionWeights;
}

/** A validated rules file. */
export interface AttributionRules {
  /** The operator's version of the file, recorded with every attribution made under it. */
  version: string;
  default: ModelRule;
  /** Per brand id; brands not named use `default`. */
  brands: Readonly<Record<string, ModelRule>>;
}

/** What the player actor applies for one brand: the model, its weights, and the label it records. */
export interface BrandRule {
  model: AttributionModel;
  weights: PositionWeights;
  /** `<model>@<file version>`, e.g. `position@2026-11-21.1`: the `rulesVersion` of every attribution made under it. */
  version: string;
}

/** The default position-based shares: 40% first, 20% the middle ones, 40% last. */
export const DEFAULT_POSITION_WEIGHTS: PositionWeights = [40, 20, 40];

/**
 * The rules in force before a partition has seen any rules message: last click for everyone, under
 * version `1` — so their label is `last-click@1`, the one attributions carried before rules files.
 */
export const BUILTIN_RULES: AttributionRules = { version: '1', default: { model: 'last_click' }, brands: {} };

const VERSION = /^[A-Za-z0-9._:+-]{1,64}$/;

/** The rule for `brandId` under `rules`. */
export function ruleFor(rules: AttributionRules, brandId: string): BrandRule {
  const r = rules.brands[brandId] ?? rules.default;
  return { model: r.model, weights: r.weights ?? DEFAULT_POSITION_WEIGHTS, version: `${r.model.replace('_', '-')}@${rules.version}` };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(source: string, at: string, v: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new RulesError(source, at ? `${at}.${k}` : k, v[k], `no such key; keys here: ${allowed.join(', ')}`);
  }
}

function modelRule(source: string, at: string, v: unknown): ModelRule {
  if (!isObject(v)) throw new RulesError(source, at, v, 'an object such as {"model": "last_click"}');
  onlyKeys(source, at, v, ['model', 'weights']);
  const model = v.model;
  if (!(ATTRIBUTION_MODELS as readonly unknown[]).includes(model)) throw new RulesError(source, `${at}.model`, model, `one of ${ATTRIBUTION_MODELS.join(', ')}`);
  if (v.weights === undefined) return model === 'position' ? { model, weights: DEFAULT_POSITION_WEIGHTS } : { model: model as AttributionModel };
  if (model !== 'position') throw new RulesError(source, `${at}.weights`, v.weights, 'no weights: only the position model takes them');
  const w = v.weights;
  if (!Array.isArray(w) || w.length !== 3 || !w.every((x) => Number.isInteger(x) && x >= 0) || w[0] + w[1] + w[2] !== 100) {
    throw new RulesError(source, `${at}.weights`, w, 'three whole percentages [first, middle, last] that sum to 100, e.g. [40, 20, 40]');
  }
  return { model: 'position', weights: [w[0], w[1], w[2]] };
}

/** Validate parsed JSON as a rules file; throws {@link RulesError}. `source` names the file in messages. */
export function validateRules(v: unknown, source: string): AttributionRules {
  if (!isObject(v)) throw new RulesError(source, '(file)', v, 'a JSON object with version, default and brands');
  onlyKeys(source, '', v, ['version', 'default', 'brands']);
  if (typeof v.version !== 'string' || !VERSION.test(v.version)) {
    throw new RulesError(source, 'version', v.version, 'a string of 1 to 64 letters, digits and . _ : + -, e.g. "2026-11-21.1"');
  }
  const def = modelRule(source, 'default', v.default ?? { model: 'last_click' });
  const brands: Record<string, ModelRule> = {};
  if (v.brands !== undefined) {
    if (!isObject(v.brands)) throw new RulesError(source, 'brands', v.brands, 'an object from brand id to {"model": …}');
    for (const [id, rule] of Object.entries(v.brands)) {
      if (!isId(id)) throw new RulesError(source, `brands.${id}`, id, 'a brand id ([A-Za-z0-9_-]{1,64})');
      brands[id] = modelRule(source, `brands.${id}`, rule);
    }
  }
  return { version: v.version, default: def, brands };
}

/** Parse and validate the text of a rules file; throws {@link RulesError}. */
export function parseRules(text: string, source: string): AttributionRules {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RulesError(source, '(file)', text.slice(0, 40), `JSON (${(err as Error).message})`);
  }
  return validateRules(v, source);
}

/**
 * The rules as canonical JSON (keys in a fixed order, brands sorted): equal rules give equal text,
 * whatever the file's layout, so a partition can tell whether it already has them.
 */
export function canonicalRules(r: AttributionRules): string {
  const rule = (m: ModelRule) => (m.weights ? { model: m.model, weights: m.weights } : { model: m.model });
  const brands = Object.fromEntries(Object.keys(r.brands).sort().map((id) => [id, rule(r.brands[id] as ModelRule)]));
  return JSON.stringify({ version: r.version, default: rule(r.default), brands });
}
