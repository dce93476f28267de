import type { RecordErrorCode } from '../errors.js';
import type { SessionStatus } from './session.js';

/** What a disconnect reason means for the session (contract table "Disconnect reasons"). */
export interface DisconnectOutcome {
  isReconnectable: boolean;
  /** The status when not reconnectable. */
  status: SessionStatus;
  code: RecordErrorCode | null;
  dropAuth: boolean;
}

const FINAL: Record<string, Omit<DisconnectOutcome, 'isReconnectable'>> = {
  LOGOUT: { status: 'stopped', code: 'LOGGED_OUT', dropAuth: true },
  UNPAIRED: { status: 'stopped', code: 'LOGGED_OUT', dropAuth: true },
  UNPAIRED_IDLE: { status: 'stopped', code: 'LOGGED_OUT', dropAuth: true },
  TOS_BLOCK: { status: 'failed', code: 'BANNED', dropAuth: false },
  SMB_TOS_BLOCK: { status: 'failed', code: 'BANNED', dropAuth: false },
  DEPRECATED_VERSION: { status: 'failed', code: 'WEB_VERSION_DEPRECATED', dropAuth: false },
  PROXYBLOCK: { status: 'failed', code: 'PROXY_BLOCKED', dropAuth: false },
  'Max qrcode retries reached': { status: 'failed', code: 'QR_TIMEOUT', dropAuth: false },
};

/** Reasons the simulator's disconnect route accepts: every reason of the table plus common reconnectable ones. */
export const KNOWN_DISCONNECT_REASONS = [...Object.keys(FINAL), 'CONFLICT', 'UNLAUNCHED', 'TIMEOUT', 'NAVIGATION', 'BROWSER_CRASH'] as const;

export function classifyDisconnect(reason: string): DisconnectOutcome {
  const final = FINAL[reason];
  if (final) return { isReconnectable: false, ...final };
  return { isReconnectable: true, status: 'disconnected', code: null, dropAuth: false };
}

/** `connection.status` state for a whatsapp-web.js WAState (contract mapping). */
export function connectionStateOf(waState: string): 'open' | 'connecting' | 'closed' | 'refused' {
  switch (waState) {
    case 'CONNECTED':
      return 'open';
    case 'OPENING':
    case 'PAIRING':
      return 'connecting';
    case 'TOS_BLOCK':
    case 'SMB_TOS_BLOCK':
    case 'PROXYBLOCK':
    case 'DEPRECATED_VERSION':
      return 'refused';
    default:
      return 'closed';
  }
}
