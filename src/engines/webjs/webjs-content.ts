import pkg from 'whatsapp-web.js';
import type WAWebJS from 'whatsapp-web.js';
import type { MediaInput, OutboundContent, SendOptions } from '../engine.js';

// whatsapp-web.js is CommonJS: its classes come from the default import under NodeNext ESM.
const { MessageMedia, Location, Poll } = pkg;

/** The arguments of `client.sendMessage(chatId, content, options)` for one outbound message. */
export interface WebjsSendArgs {
  content: WAWebJS.MessageContent;
  options: WAWebJS.MessageSendOptions;
}

/**
 * Turns the port's content into whatsapp-web.js's sendMessage arguments. Pure: no I/O.
 *
 * Always `sendSeen: false` (sending never marks the chat read; whatsapp-web.js defaults to true,
 * src/Client.js:1474) and `ignoreQuoteErrors: false`: whatsapp-web.js otherwise sends an unknown
 * quoted message as a plain message without telling (src/util/Injected/Utils.js:196-199); with
 * false it throws "Could not get the quoted message." and the send fails QUOTED_MESSAGE_NOT_FOUND.
 */
export function toWebjsSendArgs(content: OutboundContent, sendOptions: SendOptions): WebjsSendArgs {
  const options: WAWebJS.MessageSendOptions = { sendSeen: false };
  if (sendOptions.quotedMessageId !== undefined) {
    options.quotedMessageId = sendOptions.quotedMessageId;
    options.ignoreQuoteErrors = false;
  }
  if (sendOptions.mentions !== undefined && sendOptions.mentions.length > 0) options.mentions = [...sendOptions.mentions];

  switch (content.type) {
    case 'text':
      // whatsapp-web.js previews links unless linkPreview is exactly false (src/Client.js:1456).
      options.linkPreview = content.linkPreview === true;
      return { content: content.text, options };
    case 'image':
    case 'video':
      setCaption(options, content.caption);
      return { content: toMessageMedia(content.media), options };
    case 'audio':
      if (content.voice === true) options.sendAudioAsVoice = true;
      return { content: toMessageMedia(content.media), options };
    case 'document':
      options.sendMediaAsDocument = true;
      setCaption(options, content.caption);
      return { content: toMessageMedia(content.media, content.filename), options };
    case 'sticker':
      options.sendMediaAsSticker = true;
      return { content: toMessageMedia(content.media), options };
    case 'location': {
      const { latitude, longitude, name, address, url } = content.location;
      const locationOptions: WAWebJS.LocationSendOptions = {};
      if (name !== undefined) locationOptions.name = name;
      if (address !== undefined) locationOptions.address = address;
      if (url !== undefined) locationOptions.url = url;
      return { content: new Location(latitude, longitude, locationOptions), options };
    }
    case 'contact':
      return { content: toVCard(content.contact.name, content.contact.phone), options };
    case 'poll':
      return {
        content: new Poll(content.poll.name, content.poll.options, { allowMultipleAnswers: content.poll.multipleAnswers === true, messageSecret: undefined }),
        options,
      };
  }
}

function setCaption(options: WAWebJS.MessageSendOptions, caption: string | undefined): void {
  if (caption !== undefined && caption !== '') options.caption = caption;
}

/** A MessageMedia from base64 data; `filename` (a document's) wins over the media's own. */
export function toMessageMedia(media: MediaInput, filename?: string): WAWebJS.MessageMedia {
  return new MessageMedia(media.mimetype, media.data, filename ?? media.filename ?? null);
}

/** Escapes a vCard 3.0 text value (RFC 2426 §4: backslash, comma, semicolon, newline). */
export function escapeVCardText(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\r\n|\r|\n/g, '\\n')
    .replace(/,/g, '\\,')
    .replace(/;/g, '\\;');
}

/**
 * A vCard 3.0 for one contact. `waid` is what makes WhatsApp show the card's "Message" button;
 * whatsapp-web.js sends a string starting with BEGIN:VCARD as a contact card (parseVCards,
 * src/util/Injected/Utils.js:317-337).
 */
export function toVCard(name: string, phone: string): string {
  const digits = phone.replace(/\D/g, '');
  const escaped = escapeVCardText(name);
  return ['BEGIN:VCARD', 'VERSION:3.0', `FN:${escaped}`, `N:;${escaped};;;`, `TEL;type=CELL;type=VOICE;waid=${digits}:+${digits}`, 'END:VCARD'].join('\n');
}
