/**
 * Message content for the IMAP server: pure functions over a message's raw bytes (no I/O).
 *
 *   parseMime            mime-tree.ts      byte offsets of every part
 *   imapEnvelope*        envelope.ts       FETCH ENVELOPE (header only)
 *   imapBodyStructure    bodystructure.ts  FETCH BODYSTRUCTURE / BODY
 *   bodySection, partial body-section.ts  FETCH BODY[section]<partial>
 *   matches, needs*      search.ts         SEARCH criteria
 *
 * Strings returned are UTF-8 text with literals counted in UTF-8 octets (imap-string.ts).
 */
export { parseMime, isMultipart, isMessageRfc822, type MimePart, type MimeFields } from './mime-tree.js';
export { imapEnvelope, imapEnvelopeFromHeader } from './envelope.js';
export { imapBodyStructure, countLines } from './bodystructure.js';
export { bodySection, findPart, partial, type SectionSpec } from './body-section.js';
export { matches, needsBody, needsContent, sentDay, type SearchKey, type SearchSubject } from './search.js';
export { headerBounds, type HeaderBounds } from './header.js';
export { imapString, imapNString } from './imap-string.js';
