import { expect } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-envelope.js';
import type { DeliveryView } from '../../src/webhooks/delivery.js';
import { simulatorOf } from './messaging.js';
import { AUTH, type TestApp } from './test-app.js';
import type { WebhookReceiver } from './webhook-receiver.js';

export const SECRET_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const SECRET_B = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
export const CONTACT = '5511977776666@c.us';

/** `0` then `count` delays of `step`: a long run of quick attempts. */
export const quickSchedule = (count: number, step = '50ms'): string => ['0', ...Array.from({ length: count }, () => step)].join(',');

export function webhookEnv(receiver: WebhookReceiver, env: Record<string, string> = {}): Record<string, string> {
  return {
    APP_WEBHOOK_URL: receiver.url('/app'),
    APP_WEBHOOK_EVENTS: 'message',
    WEBHOOK_SECRET: SECRET_A,
    WEBHOOK_RETRY_SCHEDULE: '0,50ms,100ms',
    // Generous: a loaded test machine must not turn a slow answer into a failed attempt.
    WEBHOOK_TIMEOUT: '5s',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    ...env,
  };
}

export const inbound = (t: TestApp, sessionId: string, text: string): void => {
  simulatorOf(t, sessionId).receive({ from: CONTACT, type: 'text', text });
};

export async function deliveries(t: TestApp, query = ''): Promise<DeliveryView[]> {
  const res = await t.app.inject({ url: `/api/v1/webhooks/deliveries${query}`, headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ data: DeliveryView[] }>().data;
}

/** The session's `message` envelopes as the event log holds them. */
export async function loggedMessages(t: TestApp, sessionId: string): Promise<EventEnvelope[]> {
  const res = await t.app.inject({ url: `/api/v1/sessions/${sessionId}/events?limit=1000`, headers: AUTH });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ data: EventEnvelope[] }>().data.filter((e) => e.event === 'message');
}

