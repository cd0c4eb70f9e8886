/**
 * The attribution rules file (docs/configuration.md, “Attribution rules file”): validation naming
 * key, value and what is allowed; reload without restart.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_RULES, canonicalRules, parseRules, ruleFor, type AttributionRules } from '../../schema/attributionRules.ts';
import { loadConfig } from '../../schema/config.ts';
import { ConfigError, RulesError } from '../../schema/errors.ts';
import { decodeRules, encodeRules } from '../../schema/eventWire.ts';
import { WireError } from '../../schema/wire.ts';
import { loadRulesFile, RulesFile } from '../../workers/runtime/rulesFile.ts';

function rejection(text: string): RulesError {
  try {
    parseRules(text, 'rules.json');
  } catch (err) {
    expect(err).toBeInstanceOf(RulesError);
    return err as RulesError;
  }
  throw new Error(`expected ${text} to be rejected`);
}

describe('rules file validation', () => {
  it('reads models per brand, the default, and labels each with model and version', () => {
    const r = parseRules('{"version": "2026-11-21.1", "default": {"model": "last_click"}, "brands": {"b1": {"model": "position", "weights": [40,20,40]}, "b2": {"model": "linear"}}}', 'f');
    expect(ruleFor(r, 'b1')).toEqual({ model: 'position', weights: [40, 20, 40], version: 'position@2026-11-21.1' });
    expect(ruleFor(r, 'b2').version).toBe('linear@2026-11-21.1');
    expect(ruleFor(r, 'other').version).toBe('last-click@2026-11-21.1');
    // Position without weights is 40/20/40; the default is last click; the built-in rules keep the historical label.
    expect(ruleFor(parseRules('{"version": "x", "brands": {"b": {"model": "position"}}}', 'f'), 'b').weights).toEqual([40, 20, 40]);
    expect(ruleFor(parseRules('{"version": "x"}', 'f'), 'b').version).toBe('last-click@x');
    expect(ruleFor(BUILTIN_RULES, 'b').version).toBe('last-click@1');
  });

  it('rejects bad files naming the key, the value and what is allowed', () => {
    const cases: Array<[string, string, string]> = [
      ['{"version": 1}', 'version', 'a string of 1 to 64'],
      ['{"version": "has space"}', 'version', 'a string of 1 to 64'],
      ['{"version": "v", "default": {"model": "last-touch"}}', 'default.model', 'one of last_click, first_click, linear, position'],
      ['{"version": "v", "brands": {"b1": {"model": "position", "weights": [40, 20]}}}', 'brands.b1.weights', 'three whole percentages'],
      ['{"version": "v", "brands": {"b1": {"model": "position", "weights": [40, 20, 41]}}}', 'brands.b1.weights', 'sum to 100'],
      ['{"version": "v", "brands": {"b1": {"model": "position", "weights": [40.5, 19.5, 40]}}}', 'brands.b1.weights', 'three whole percentages'],
      ['{"version": "v", "brands": {"b1": {"model": "linear", "weights": [40, 20, 40]}}}', 'brands.b1.weights', 'only the position model'],
      ['{"version": "v", "brands": {"b 1": {"model": "linear"}}}', 'brands.b 1', 'a brand id'],
      ['{"version": "v", "brands": []}', 'brands', 'an object from brand id'],
      ['{"version": "v", "brand": {}}', 'brand', 'keys here: version, default, brands'],
      ['{"version": "v", "default": {"model": "linear", "window": 30}}', 'default.window', 'keys here: model, weights'],
      ['[]', '(file)', 'a JSON object'],
      ['{"version": "v",', '(file)', 'JSON'],
    ];
    for (const [text, key, allowed] of cases) {
      const err = rejection(text);
      expect([err.key, err.code]).toEqual([key, 'invalid_rules']);
      expect(err.message).toContain('rules.json');
      expect(err.message).toContain(allowed);
    }
    expect(rejection('{"version": "v", "brands": {"b1": {"model": "position", "weights": [40, 20, 41]}}}').message).toContain('[40,20,41]');
  });

  it('has one canonical text for equal rules, whatever the layout', () => {
    const a = parseRules('{"brands": {"b2": {"model": "linear"}, "b1": {"model": "position"}}, "version": "v"}', 'f');
    const b = parseRules('{"version": "v", "default": {"model": "last_click"}, "brands": {"b1": {"weights": [40, 20, 40], "model": "position"}, "b2": {"model": "linear"}}}', 'f');
    expect(canonicalRules(a)).toBe(canonicalRules(b));
    expect(canonicalRules(parseRules('{"version": "1"}', 'f'))).toBe(canonicalRules(BUILTIN_RULES));
  });

  it('travels in a rules message, validated again on the way in', () => {
    const r = parseRules('{"version": "v", "brands": {"b1": {"model": "first_click"}}}', 'f');
    expect(decodeRules(encodeRules('id', canonicalRules(r)))).toEqual(r);
    expect(() => decodeRules(encodeRules('id', '{"version": "v", "default": {"model": "nope"}}'))).toThrow(WireError);
  });

  it('is a config key with an environment override; the path must name a .json file', () => {
    expect(loadConfig({}, {}).attribution).toEqual({ rulesFile: 'attribution.rules.json', reloadPollMs: 1000 });
    expect(loadConfig({}, { AFFSTREAM_ATTRIBUTION_RULES: '/etc/affstream/rules.json' }).attribution.rulesFile).toBe('/etc/affstream/rules.json');
    expect(() => loadConfig({ attribution: { rulesFile: 'rules.yaml' } }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ attribution: { reloadPollMs: 5 } }, {})).toThrow(/attribution.reloadPollMs/);
  });
});

describe('rules file reload', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function setup(text: string) {
    const dir = mkdtempSync(join(tmpdir(), 'affstream-rules-'));
    dirs.push(dir);
    const path = join(dir, 'rules.json');
    writeFileSync(path, text);
    const cfg = loadConfig({ attribution: { rulesFile: path, reloadPollMs: 100 } }, {});
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    return { path, cfg, log, lines };
  }

  const until = async (what: () => boolean) => {
    for (let i = 0; i < 100 && !what(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(what()).toBe(true);
  };

  it('refuses a bad or missing file at boot with the reason; no file configured is last click everywhere', async () => {
    const { cfg } = setup('{"version": "v", "default": {"model": "nearest"}}');
    await expect(loadRulesFile(cfg)).rejects.toThrow(/default.model = "nearest" is not allowed/);
    await expect(loadRulesFile(loadConfig({ attribution: { rulesFile: '/nonexistent/rules.json' } }, {}))).rejects.toThrow(/ENOENT.*a readable file/);
    await expect(loadRulesFile(loadConfig({ attribution: { rulesFile: '' } }, {}))).resolves.toBe(BUILTIN_RULES);
  });

  it('adopts a valid change without restart, keeps the previous rules on a bad one and says why', async () => {
    const { path, cfg, log, lines } = setup('{"version": "a", "default": {"model": "linear"}}');
    const seen: AttributionRules[] = [];
    const file = new RulesFile(cfg, await loadRulesFile(cfg), log, (r) => seen.push(r));
    try {
      // An editor's save: a new file renamed over the old one.
      writeFileSync(`${path}.tmp`, '{"version": "b", "default": {"model": "first_click"}}');
      renameSync(`${path}.tmp`, path);
      await until(() => seen.length === 1);
      expect([file.current.version, ruleFor(file.current, 'x').model]).toEqual(['b', 'first_click']);

      writeFileSync(path, '{"version": "c", "default": {"model": "position", "weights": [1, 2, 3]}}');
      await until(() => lines.some((l) => l.includes('rejected')));
      expect(lines.find((l) => l.includes('rejected'))).toContain('default.weights = [1,2,3] is not allowed');
      expect(file.current.version).toBe('b');

      // The same rules written again (another layout) are no change.
      writeFileSync(path, '{"default": {"model": "first_click"}, "version": "b"}');
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toHaveLength(1);

      writeFileSync(path, '{"version": "d"}');
      await until(() => seen.length === 2);
      expect(file.current.version).toBe('d');
    } finally {
      file.close();
    }
  });
});
