import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EVENT_DEFINITIONS, EVENT_NAMES, eventSchemaName, exampleEnvelope, webhooksDocument } from '../../src/events/event-schemas.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

/**
 * Event names the code publishes, read from the source: `event: '<name>'` (contract-events.ts,
 * bus.publish calls) and the session lifecycle's `this.publish(<id>, '<name>', …)`.
 */
function publishedNames(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    if (file.endsWith('event-schemas.ts') || file.endsWith('events.schemas.ts')) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\bevent: '([a-z_.]+)'|\bpublish\([^,()]+, '([a-z_.]+)'/g)) {
      const name = match[1] ?? match[2] ?? '';
      found.set(name, [...(found.get(name) ?? []), file.slice(SRC.length)]);
    }
  }
  return found;
}

/** The contract's table of events (`api.md` "Events and webhooks"): name → the field names it lists. */
function contractTable(): Map<string, string[]> {
  const md = readFileSync(new URL('../../../shared/docs/api.md', import.meta.url), 'utf8');
  const section = md.slice(md.indexOf('## Events and webhooks'), md.indexOf('**Delivery.**'));
  const table = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const row = /^\| `([a-z_.]+)` \| (.*) \|$/.exec(line);
    if (!row?.[1] || row[2] === undefined) continue;
    const cell = row[2].split(' — ')[0] ?? '';
    const fields = [...cell.matchAll(/`([^`]+)`/g)]
      .map((m) => m[1] ?? '')
      .filter((segment) => !segment.includes('…') && !/^[a-z]+:$/.test(segment))
      .flatMap((segment) => segment.replace(/\{[^}]*\}/g, '').split(','))
      .map((part) => /^\s*([A-Za-z]+)/.exec(part)?.[1] ?? '')
      .filter((field) => field !== '');
    table.set(row[1], fields);
  }
  return table;
}

describe('event catalogue (webhooks section of the OpenAPI document)', () => {
  it('documents every event name the code publishes, and publishes every name it documents', () => {
    const found = publishedNames();
    const undocumented = [...found.keys()].filter((name) => !(EVENT_NAMES as string[]).includes(name));
    expect(undocumented, JSON.stringify(Object.fromEntries(found))).toEqual([]);
    expect([...found.keys()].sort()).toEqual([...EVENT_NAMES].sort());
  });

  it('documents every event of the contract with every field the contract lists', () => {
    const table = contractTable();
    expect(table.size).toBe(14);
    for (const [name, fields] of table) {
      expect(EVENT_NAMES, name).toContain(name);
      const shape = EVENT_DEFINITIONS[name as keyof typeof EVENT_DEFINITIONS].data.shape;
      for (const field of fields) expect(Object.keys(shape), `${name}.${field}`).toContain(field);
    }
    // The gateway also emits these, beyond the contract's table.
    expect(EVENT_NAMES.filter((name) => !table.has(name)).sort()).toEqual(['call', 'group_update']);
  });

  it('keeps seed 002\'s fields first in every data schema', () => {
    const first: Record<string, string[]> = {
      message: ['from', 'to', 'body', 'messageId', 'timestamp', 'isGroup'],
      message_create: ['id', 'from', 'to', 'body', 'timestamp'],
      message_ack: ['messageId', 'ack', 'timestamp'],
    };
    for (const [name, fields] of Object.entries(first)) expect(Object.keys(EVENT_DEFINITIONS[name as keyof typeof EVENT_DEFINITIONS].data.shape).slice(0, fields.length)).toEqual(fields);
  });

  it('gives each event an example that its schema accepts strictly', () => {
    for (const name of EVENT_NAMES) {
      const { data, example } = EVENT_DEFINITIONS[name];
      const parsed = z.strictObject(data.shape).safeParse(example);
      expect(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
    }
  });

  it('builds one webhook per event, each referencing its envelope schema with the event name as a constant', () => {
    const { webhooks, schemas } = webhooksDocument();
    expect(Object.keys(webhooks).sort()).toEqual([...EVENT_NAMES].sort());
    for (const name of EVENT_NAMES) {
      const operation = (webhooks[name] as { post: { requestBody: { content: Record<string, { schema: { $ref: string }; example: unknown }> } } }).post;
      const media = operation.requestBody.content['application/json'];
      expect(media?.schema.$ref).toBe(`#/components/schemas/${eventSchemaName(name)}`);
      expect(media?.example).toEqual(exampleEnvelope(name));
      const envelope = schemas[eventSchemaName(name)] as { properties: Record<string, { const?: string; $ref?: string }>; required: string[]; examples: unknown[] };
      expect(envelope.properties.event?.const).toBe(name);
      expect(envelope.properties.data?.$ref).toBe(`#/components/schemas/${eventSchemaName(name)}Data`);
      expect(envelope.required).toEqual(['id', 'seq', 'sessionId', 'event', 'timestamp', 'occurredAt', 'data']);
      expect(envelope.examples).toHaveLength(1);
      expect(schemas[`${eventSchemaName(name)}Data`]).toHaveProperty('properties');
    }
    expect(JSON.stringify(schemas)).not.toContain('$schema');
  });
});
