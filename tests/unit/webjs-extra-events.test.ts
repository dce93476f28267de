import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engines/engine.js';
import type { WebjsEventName } from '../../src/engines/webjs/webjs-client.js';
import { attachWebjsEvents, type AttachOptions } from '../../src/engines/webjs/webjs-event-mapper.js';
import {
  CONTACT,
  EventCollector,
  FakeWebjsClient,
  GROUP,
  ME,
  MessageMedia,
  contactId,
  deferred,
  fakeCall,
  fakeGroupNotification,
  fakeMessage,
  fakePollVote,
  messageId,
  settle,
} from '../helpers/fake-webjs-client.js';

/** vote_update, call and the group_* events; the other events are in webjs-event-mapper.test.ts. */

/** Every event the mapper listens to: a Record so that a new WebjsEventMap entry fails compilation here until listed. */
const LISTENED: Record<WebjsEventName, true> = {
  qr: true, code: true, authenticated: true, auth_failure: true, ready: true, loading_screen: true, message: true, message_create: true,
  message_ack: true, message_edit: true, message_revoke_everyone: true, message_reaction: true, change_state: true, change_battery: true,
  disconnected: true, vote_update: true, call: true, group_join: true, group_leave: true, group_admin_changed: true, group_update: true,
};
const ALL_EVENTS = Object.keys(LISTENED);
const VOTER = '5511900000005@c.us';

describe('attachWebjsEvents: polls, calls and groups', () => {
  let fake: FakeWebjsClient;
  let out: EventCollector;
  let errors: { error: unknown; event: string }[];
  let detach: () => void;

  const attach = (options: Partial<AttachOptions> = {}): void => {
    detach = attachWebjsEvents(fake, out.emit, { onError: (error, event) => errors.push({ error, event }), ...options });
  };
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  beforeEach(() => {
    fake = new FakeWebjsClient();
    out = new EventCollector();
    errors = [];
    attach();
  });
  afterEach(() => detach());

  describe('vote_update', () => {
    it('maps a vote to the poll message id, the option names and seconds', () => {
      const poll = messageId(true, GROUP, 'POLL1');
      fake.emitEvent('vote_update', fakePollVote({ poll, voter: VOTER, options: ['Red', 'Blue'], interractedAtTs: 1_700_000_000_750 }));
      expect(out.events).toEqual([{ type: 'vote_update', waMessageId: poll._serialized, voter: VOTER, selectedOptions: ['Red', 'Blue'], timestamp: 1_700_000_000 }]);
      expect(errors).toEqual([]);
    });

    it('maps a withdrawn vote to no options', () => {
      const vote = fakePollVote({ options: [] });
      fake.emitEvent('vote_update', vote);
      expect(out.events).toMatchObject([{ type: 'vote_update', waMessageId: vote.parentMsgKey?._serialized, selectedOptions: [] }]);
    });

    it('takes the poll id from parentMsgKey when whatsapp-web.js could not load the poll message', () => {
      const poll = messageId(false, CONTACT, 'UNLOADED');
      fake.emitEvent('vote_update', fakePollVote({ poll, options: [], pollNotLoaded: true }));
      expect(out.events).toMatchObject([{ type: 'vote_update', waMessageId: poll._serialized, selectedOptions: [] }]);
    });

    it('reports a vote whose option names are unknown instead of emitting a partial one, and goes on', () => {
      fake.emitEvent('vote_update', fakePollVote({ options: ['Red'], pollNotLoaded: true }));
      fake.emitEvent('vote_update', fakePollVote({ options: ['Blue'] }));
      expect(out.events).toMatchObject([{ type: 'vote_update', selectedOptions: ['Blue'] }]);
      expect(errors.map((e) => e.event)).toEqual(['vote_update']);
      expect(String(errors[0]?.error)).toMatch(/names of the options/);
    });

    it('reports a vote without any poll id', () => {
      fake.emitEvent('vote_update', { ...fakePollVote(), parentMessage: {}, parentMsgKey: undefined });
      expect(out.events).toEqual([]);
      expect(errors.map((e) => e.event)).toEqual(['vote_update']);
    });

    it('accepts a voter handed over as a Wid object (whatsapp-web.js does not normalize it)', () => {
      // EventEmitter.emit is untyped, as whatsapp-web.js's own payloads are at runtime.
      fake.emit('vote_update', { ...fakePollVote({ options: ['Red'] }), voter: contactId(VOTER) });
      expect(out.events).toMatchObject([{ type: 'vote_update', voter: VOTER }]);
    });
  });

  describe('call', () => {
    it('maps an incoming call, stamped now since whatsapp-web.js leaves its timestamp unset', () => {
      const before = nowSeconds();
      const call = fakeCall({ id: 'CALL-1' });
      fake.emitEvent('call', call);
      expect(out.events).toEqual([{ type: 'call', callId: 'CALL-1', from: CONTACT, isVideo: false, isGroup: false, timestamp: expect.any(Number) as unknown }]);
      const event = out.events[0];
      expect(event?.type === 'call' ? event.timestamp : 0).toBeGreaterThanOrEqual(before);
    });

    it('maps a video group call with the timestamp it carries', () => {
      fake.emitEvent('call', fakeCall({ id: 'CALL-2', isVideo: true, isGroup: true, timestamp: 1_700_000_100 }));
      expect(out.events).toEqual([{ type: 'call', callId: 'CALL-2', from: CONTACT, isVideo: true, isGroup: true, timestamp: 1_700_000_100 }]);
    });

    it('accepts a caller handed over as a Wid object (peerJid as WhatsApp Web has it)', () => {
      fake.emit('call', { ...fakeCall(), from: contactId(CONTACT) });
      expect(out.events).toMatchObject([{ type: 'call', from: CONTACT }]);
    });

    it('leaves out own outgoing calls, which whatsapp-web.js emits too', () => {
      fake.emitEvent('call', fakeCall({ fromMe: true, from: CONTACT }));
      expect(out.events).toEqual([]);
      expect(errors).toEqual([]);
    });

    it('reports a call without a caller', () => {
      const { from: _from, ...withoutCaller } = fakeCall();
      fake.emitEvent('call', withoutCaller);
      expect(out.events).toEqual([]);
      expect(errors.map((e) => e.event)).toEqual(['call']);
    });
  });

  describe('group notifications', () => {
    it.each<[WebjsEventName & `group_${string}`, string, Extract<EngineEvent, { type: 'group_update' }>['kind']]>([
      ['group_join', 'invite', 'join'],
      ['group_leave', 'remove', 'leave'],
      ['group_admin_changed', 'promote', 'admin_changed'],
      ['group_update', 'subject', 'update'],
    ])('maps %s (%s) to group_update of kind %s', (name, subtype, kind) => {
      const notification = fakeGroupNotification({ type: subtype, author: CONTACT, recipientIds: [ME, VOTER], body: 'x', timestamp: 1_700_000_200 });
      fake.emitEvent(name, notification);
      expect(out.events).toEqual([{ type: 'group_update', kind, chatId: GROUP, author: CONTACT, recipients: [ME, VOTER], subtype, body: 'x', timestamp: 1_700_000_200 }]);
      expect(errors).toEqual([]);
    });

    it('maps a notification without author to author null, and keeps subtypes the library does not declare', () => {
      const { author: _author, ...withoutAuthor } = fakeGroupNotification({ type: 'linked_group_join', recipientIds: [] });
      fake.emitEvent('group_join', withoutAuthor);
      expect(out.events).toMatchObject([{ type: 'group_update', kind: 'join', author: null, recipients: [], subtype: 'linked_group_join' }]);
    });

    it('accepts recipients handed over as Wid objects', () => {
      fake.emit('group_leave', { ...fakeGroupNotification({ type: 'leave' }), recipientIds: [contactId(VOTER), 7] });
      expect(out.events).toMatchObject([{ type: 'group_update', kind: 'leave', recipients: [VOTER] }]);
    });
  });

  describe('ordering, isolation and detach', () => {
    it('waits behind a slow message and keeps the order whatsapp-web.js emitted in', async () => {
      const media = deferred<InstanceType<typeof MessageMedia>>();
      fake.emitEvent('message', fakeMessage({ body: 'slow', downloadMedia: () => media.promise }));
      fake.emitEvent('vote_update', fakePollVote({ options: ['Red'] }));
      fake.emitEvent('call', fakeCall());
      fake.emitEvent('group_join', fakeGroupNotification());
      fake.emitEvent('message_ack', fakeMessage({ fromMe: true }), 2);
      fake.emitEvent('group_update', fakeGroupNotification({ type: 'subject' }));
      await settle();
      expect(out.events).toEqual([]);
      media.resolve(new MessageMedia('image/png', 'iVBO'));
      const events = await out.next(6);
      expect(events.map((e) => (e.type === 'group_update' ? `group_update:${e.kind}` : e.type))).toEqual([
        'message', 'vote_update', 'call', 'group_update:join', 'message_ack', 'group_update:update',
      ]);
    });

    it('emits at once when nothing is waiting', () => {
      fake.emitEvent('qr', 'q1');
      fake.emitEvent('call', fakeCall());
      fake.emitEvent('group_admin_changed', fakeGroupNotification({ type: 'demote' }));
      fake.emitEvent('vote_update', fakePollVote());
      expect(out.events.map((e) => e.type)).toEqual(['qr', 'call', 'group_update', 'vote_update']);
    });

    it('never lets a throwing listener or a bad payload reach whatsapp-web.js or stop later events', () => {
      out.throwOn = (event) => event.type === 'call';
      expect(() => fake.emitEvent('call', fakeCall())).not.toThrow();
      expect(() => fake.emit('group_update', null)).not.toThrow();
      expect(() => fake.emit('vote_update', {})).not.toThrow();
      fake.emitEvent('group_leave', fakeGroupNotification({ type: 'leave' }));
      expect(out.events.map((e) => e.type)).toEqual(['call', 'group_update']);
      expect(errors.map((e) => e.event)).toEqual(['call', 'group_update', 'vote_update']);
    });

    it('detach removes exactly its listeners, the new ones included, and drops events still being mapped', async () => {
      let foreign = 0;
      fake.on('call', () => (foreign += 1));
      const media = deferred<undefined>();
      fake.emitEvent('message', fakeMessage({ downloadMedia: () => media.promise }));
      fake.emitEvent('vote_update', fakePollVote());
      fake.emitEvent('group_update', fakeGroupNotification());
      for (const name of ALL_EVENTS) expect(fake.listenerCount(name), name).toBe(name === 'call' ? 2 : 1);
      detach();
      for (const name of ALL_EVENTS) expect(fake.listenerCount(name), name).toBe(name === 'call' ? 1 : 0);
      media.resolve(undefined);
      fake.emitEvent('call', fakeCall());
      fake.emitEvent('group_join', fakeGroupNotification());
      fake.emitEvent('vote_update', fakePollVote());
      await settle();
      expect(out.events).toEqual([]);
      expect(errors).toEqual([]);
      expect(foreign).toBe(1);
    });
  });
});
