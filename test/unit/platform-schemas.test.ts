import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { PLATFORMS, specJsonSchema, NAME_PATTERN } from '../../src/model/index.js';
import { DRIVER_OPTIONS, platformOptionsJsonSchemas, type OptionType } from '../../src/drivers/index.js';

test('the published schema types every platform\'s options, chosen by platform', () => {
  const schema = specJsonSchema(platformOptionsJsonSchemas()) as Record<string, any>;
  const defs = schema['$defs'] as Record<string, any>;
  const cloud = schema['properties']['clouds']['patternProperties'][NAME_PATTERN];
  const routes = (cloud['allOf'] as any[]).map((b) => [b.if.properties.platform.const, b.then.properties.options.$ref]);
  assert.deepEqual(routes, PLATFORMS.map((p) => [p, `#/$defs/${p}Options`]));
  for (const p of PLATFORMS) {
    const d = defs[`${p}Options`];
    assert.equal(d.additionalProperties, false, `${p}: closed`);
    assert.deepEqual(Object.keys(d.properties), Object.keys(DRIVER_OPTIONS[p].fields), `${p}: the fields plan checks`);
    assert.deepEqual(d.required ?? [], [...(DRIVER_OPTIONS[p].required ?? [])], `${p}: required`);
  }
  assert.equal(defs['sshOptions'].properties.hosts.items.required[0], 'address');
  assert.equal(defs['localOptions'].properties.portsPerNode.minimum, 2);
  assert.equal(defs['ec2Options'].properties.agentAddress.enum.join(','), 'private,public');
  assert.equal(defs['openstackOptions'].properties.authUrl.pattern, '^https?:\\/\\/');
  // the model alone (no driver knowledge) leaves options free-form
  assert.equal((specJsonSchema() as Record<string, any>)['$defs'], undefined);
});

test('every option of every platform says what it does', () => {
  const missing: string[] = [];
  for (const p of PLATFORMS) {
    for (const [k, t] of Object.entries(DRIVER_OPTIONS[p].fields)) {
      if (!t.doc) missing.push(`${p}.${k}`);
      // list items with fields (ssh hosts): each field too
      const items: OptionType | undefined = t.type === 'array' ? t.items : undefined;
      if (items?.type === 'object' && items.fields) for (const [f, ft] of Object.entries(items.fields)) if (!ft.doc) missing.push(`${p}.${k}[].${f}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('the README has a section per platform naming its example and every option a spec may set', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const platforms = readme.slice(readme.indexOf('\n## Platforms\n'), readme.indexOf('\n## ', readme.indexOf('\n## Platforms\n') + 5));
  for (const p of PLATFORMS) {
    const start = platforms.indexOf(`\n### ${p}\n`);
    assert.ok(start >= 0, `### ${p}`);
    const end = platforms.indexOf('\n### ', start + 5);
    const section = platforms.slice(start, end < 0 ? undefined : end);
    const example = p === 'local' ? 'examples/webapp/app.yaml' : `examples/webapp/${p}.yaml`;
    assert.ok(section.includes(example), `${p}: names ${example}`);
    assert.ok(existsSync(new URL(`../../../${example}`, import.meta.url)), example);
    for (const [k, t] of Object.entries(DRIVER_OPTIONS[p].fields)) {
      if (t.type === 'any' || t.doc?.startsWith('tests only')) continue;
      assert.ok(section.includes(`| \`${k}\``), `${p}: option ${k} in the README`);
    }
  }
});
