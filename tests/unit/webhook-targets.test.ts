import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { SessionWebhook } from '../../src/sessions/session.js';
import { WEBHOOK_LANE_KEY, WebhookTargets, laneKeyOf, matchesEvent, parseSecrets, redactUrl, sessionTargetId } from '../../src/webhooks/webhook-targets.js';
import { SECRET_A, SECRET_B } from '../helpers/webhooks.js';

describe('webhook targets', () => {
  it('takes several WEBHOOK_SECRET values (rotation), space- or comma-separated, each a whsec_ secret', () => {
    const config = loadConfig({ API_KEY: 'k', WEBHOOK_SECRET: `${SECRET_A}, ${SECRET_B}` });
    expect(parseSecrets(config.webhook.secret)).toEqual([SECRET_A, SECRET_B]);
    expect(parseSecrets(SECRET_A)).toEqual([SECRET_A]);
    expect(parseSecrets(undefined)).toEqual([]);
    expect(() => loadConfig({ API_KEY: 'k', WEBHOOK_SECRET: `${SECRET_A} plain` })).toThrow(ConfigError);
  });

  it('filters by exact event name or *, keys lanes safely, and never shows URL credentials', () => {
    expect(matchesEvent(['*'], 'message')).toBe(true);
    expect(matchesEvent(['message'], 'message')).toBe(true);
    expect(matchesEvent(['message'], 'message_ack')).toBe(false);
    const id = sessionTargetId('https://a.example.com/x');
    expect(id).toMatch(/^w[0-9a-f]{12}$/);
    expect(sessionTargetId('https://a.example.com/x')).toBe(id);
    expect(WEBHOOK_LANE_KEY.test(laneKeyOf('sales_1-x', id))).toBe(true);
    expect(WEBHOOK_LANE_KEY.test(laneKeyOf('sales', 'app'))).toBe(true);
    expect(WEBHOOK_LANE_KEY.test('a:b.app')).toBe(false);
    expect(redactUrl('https://user:pass@hooks.example.com/x?y=1')).toBe('https://hooks.example.com/x?y=1');
    expect(redactUrl('https://hooks.example.com/x')).toBe('https://hooks.example.com/x');
  });

  it("resolves a session's targets: the global one first, entries with one URL merged (filters and secrets), disabled kept for callers to filter", async () => {
    const hooks: SessionWebhook[] = [
      { url: 'https://a.example.com/x', events: ['message'], secret: SECRET_A, disabled: false },
      { url: 'https://a.example.com/x', events: ['message_ack'], secret: SECRET_B, disabled: false },
      { url: 'https://monolith.example.com/other', events: ['*'], disabled: true },
    ];
    const disabled: string[] = [];
    const targets = new WebhookTargets(
      {
        appUrl: 'https://monolith.example.com/hook',
        appEvents: ['message'],
        secret: `${SECRET_A} ${SECRET_B}`,
        timeoutMs: 1_000,
        retryScheduleMs: [0],
        apiKey: 'k',
        apiKeyHeader: 'x-28web-gateway-key',
        allowedHosts: [],
      },
      {
        webhooksOf: (id) => (id === 's' ? hooks : null),
        disableWebhook: async (_, url, seen) => {
          if (seen === hooks) disabled.push(url);
          return true;
        },
        list: () => [{ id: 's' }],
      },
    );
    const all = targets.forSession('s');
    expect(all.map((t) => [t.id, t.kind, t.guarded, t.sendApiKey, t.disabled])).toEqual([
      ['app', 'app', false, true, false],
      [sessionTargetId('https://a.example.com/x'), 'session', true, false, false],
      [sessionTargetId('https://monolith.example.com/other'), 'session', true, true, true],
    ]);
    expect(all[0]?.secrets).toEqual([SECRET_A, SECRET_B]);
    expect(all[1]?.events).toEqual(['message', 'message_ack']);
    expect(all[1]?.secrets).toEqual([SECRET_A, SECRET_B]);
    expect(targets.matching('s', 'message_ack').map((t) => t.kind)).toEqual(['session']);
    expect(targets.matching('unknown', 'message').map((t) => t.id)).toEqual(['app']);

    const session = all[1];
    const app = all[0];
    if (!session || !app) throw new Error('targets missing');
    await targets.disable('s', session);
    expect(disabled).toEqual(['https://a.example.com/x']);
    expect(targets.appStatus()).toMatchObject({ disabled: false, disabledAt: null });
    await targets.disable('s', app);
    expect(targets.appStatus()).toMatchObject({ url: 'https://monolith.example.com/hook', disabled: true });
    expect(targets.matching('s', 'message').map((t) => t.kind)).toEqual(['session']);
    // Entries changed in place (a 410 disables them) show at the next resolution; a new URL gets its own id.
    const first = hooks[0];
    if (!first) throw new Error('hook missing');
    first.disabled = true;
    hooks.push({ url: 'https://user:pw@b.example.com/y', events: ['*'], disabled: false });
    expect(targets.forSession('s').map((t) => [t.id, t.displayUrl, t.disabled])).toEqual([
      ['app', 'https://monolith.example.com/hook', true],
      [sessionTargetId('https://a.example.com/x'), 'https://a.example.com/x', true],
      [sessionTargetId('https://monolith.example.com/other'), 'https://monolith.example.com/other', true],
      [sessionTargetId('https://user:pw@b.example.com/y'), 'https://b.example.com/y', false],
    ]);
  });
});
