import { afterEach, describe, expect, it } from 'vitest';
import { SimulatorEngine } from '../../src/engines/simulator/simulator-engine.js';
import { GatewayEventLog } from '../helpers/gateway-event-log.js';
import { AUTH, startTestApp, type TestApp } from '../helpers/test-app.js';

const CONTACT = '5511977776666@c.us';

describe('contract events of engine message events', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function readySimulator(): Promise<{ app: TestApp; engine: SimulatorEngine; log: GatewayEventLog }> {
    const app = await startTestApp();
    t = app;
    const log = new GatewayEventLog(app.app.gateway.bus);
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions', headers: AUTH, payload: { id: 'ev' } });
    await app.app.gateway.sessions.waitForStatus('ev', ['qr'], 2_000);
    await app.app.inject({ method: 'POST', url: '/api/v1/sessions/ev/simulator/scan', headers: AUTH, payload: { phone: '5511900001111' } });
    const engine = app.app.gateway.sessions.engineOf('ev');
    if (!(engine instanceof SimulatorEngine)) throw new Error('expected the simulator');
    return { app, engine, log };
  }

  it('publishes message and message_create with seed 002 fields first, and never inlines media (a stored media reference instead)', async () => {
    const { engine, log } = await readySimulator();
    const waMessageId = engine.receive({ from: CONTACT, type: 'image', text: 'look', media: { data: Buffer.from('png bytes').toString('base64'), mimetype: 'image/png' } });
    const message = await log.nth('ev', 'message', 1);
    expect(Object.keys(message.data).slice(0, 6)).toEqual(['from', 'to', 'body', 'messageId', 'timestamp', 'isGroup']);
    expect(message.data).toMatchObject({ from: CONTACT, to: '5511900001111@c.us', body: 'look', messageId: waMessageId, isGroup: false, chatId: CONTACT, type: 'image', hasMedia: true, fromMe: false });
    const media = message.data.media as { mediaId: string; url: string };
    expect(media).toEqual({ mediaId: expect.stringMatching(/^med_/) as unknown, mimetype: 'image/png', filename: null, size: 9, url: `/api/v1/sessions/ev/media/${media.mediaId}` });
    expect(message.data).not.toHaveProperty('mediaError');
    expect(JSON.stringify(message.data)).not.toContain(Buffer.from('png bytes').toString('base64'));
    const file = await t?.app.inject({ method: 'GET', url: media.url, headers: AUTH });
    expect(file?.body).toBe('png bytes');
    const created = await log.nth('ev', 'message_create', 1);
    expect(Object.keys(created.data).slice(0, 5)).toEqual(['id', 'from', 'to', 'body', 'timestamp']);
    expect(created.data).toMatchObject({ id: waMessageId, isForwarded: false, isStatus: false, fromMe: false });
    expect(log.of('ev').findIndex((e) => e.event === 'message_create')).toBeLessThan(log.of('ev').findIndex((e) => e.event === 'message'));
  });

  it('publishes message_ack with the numeric ack and its status name, in order', async () => {
    const { engine, log } = await readySimulator();
    const sent = await engine.send(CONTACT, { type: 'text', text: 'Olá!' }, {});
    const read = await log.nth('ev', 'message_ack', 3);
    const acks = log.of('ev', 'message_ack').map((e) => [e.data.messageId, e.data.ack, e.data.status]);
    expect(acks).toEqual([
      [sent.waMessageId, 1, 'sent'],
      [sent.waMessageId, 2, 'delivered'],
      [sent.waMessageId, 3, 'read'],
    ]);
    expect(read.data.timestamp).toBe(Math.floor(read.occurredAt.getTime() / 1000));
  });

  it('publishes edits, revokes and reactions', async () => {
    const { engine, log } = await readySimulator();
    const theirs = engine.receive({ from: CONTACT, type: 'text', text: 'first' });
    expect(engine.contactEdits(theirs, 'second')).toBe(true);
    expect((await log.nth('ev', 'message_edit', 1)).data).toMatchObject({ messageId: theirs, newBody: 'second', previousBody: 'first', editedAt: expect.any(Number) as unknown });
    expect(engine.contactRevokes(theirs)).toBe(true);
    expect((await log.nth('ev', 'message_revoke_everyone', 1)).data).toMatchObject({ messageId: theirs, revokedAt: expect.any(Number) as unknown });
    await engine.react(theirs, '👍');
    expect((await log.nth('ev', 'message_reaction', 1)).data).toMatchObject({ messageId: theirs, reaction: '👍', senderId: '5511900001111@c.us', timestamp: expect.any(Number) as unknown });
    expect(t?.app.gateway.sessions.get('ev').stats.received).toBe(1);
  });
});
