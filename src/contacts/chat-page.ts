import type { EngineChat } from '../engines/engine.js';

/**
 * Keyset pages over an engine's chat list, most recent activity first (the last message's time,
 * descending; chats without a message last), then by id. The opaque cursor holds the position of
 * the last chat returned, so a page resumes after it even when that chat is gone; a chat whose
 * activity moved ahead of the cursor meanwhile is on an earlier page (as in any keyset listing).
 */

interface Position {
  /** Unix seconds of the last message; -1 without one. */
  at: number;
  id: string;
}

const TAG = 'h1';

const positionOf = (chat: EngineChat): Position => ({ at: chat.lastMessage?.timestamp ?? -1, id: chat.id });

function compare(a: Position, b: Position): number {
  if (a.at !== b.at) return b.at - a.at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function encodeChatCursor(chat: EngineChat): string {
  const { at, id } = positionOf(chat);
  return Buffer.from(`${TAG}|${at}|${id}`, 'utf8').toString('base64url');
}

/** The position a cursor resumes after, or null when it is not one {@link encodeChatCursor} made. */
export function decodeChatCursor(cursor: string): Position | null {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) return null;
  const match = /^h1\|(-1|\d{1,12})\|(.{1,256})$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match?.[1] || !match[2]) return null;
  const position = { at: Number(match[1]), id: match[2] };
  return Buffer.from(`${TAG}|${position.at}|${position.id}`, 'utf8').toString('base64url') === cursor ? position : null;
}

export function pageOfChats(chats: readonly EngineChat[], limit: number, cursor: string | undefined): { data: EngineChat[]; nextCursor: string | null } {
  const after = cursor === undefined ? null : decodeChatCursor(cursor);
  const sorted = [...chats].sort((a, b) => compare(positionOf(a), positionOf(b)));
  const rest = after === null ? sorted : sorted.filter((chat) => compare(positionOf(chat), after) > 0);
  const data = rest.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rest.length > limit && last ? encodeChatCursor(last) : null };
}
