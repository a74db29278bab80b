/**
 * `sockit/lan`: the IP Messenger protocol (IP Messenger, FeiQ, iptux) as a library: the
 * packet codec (pure, never throws on garbage), the peer and message logic without sockets
 * (`LanNode`, driven by any transport), and `openLan` on real sockets (see docs/lan.md).
 *
 * @example
 * ```ts
 * import { openLan } from 'sockit/lan';
 * const lan = await openLan({ nick: 'ann' });
 * lan.node.on('message', (m) => console.log(m.from.nick, m.text));
 * lan.node.announce();
 * ```
 */
export {
  type Attachment,
  buildAttachmentList,
  buildDirHeader,
  type DirEvent,
  DirStreamParser,
  parseAttachmentList,
  safeFileName,
} from './attachments.js';
export { buildEntry, type EntryInfo, parseEntry } from './entry.js';
export { FileOffers, fetchAttachment, type OfferedFile } from './files.js';
export {
  buildPacket,
  type Charset,
  decode,
  encode,
  FileType,
  IPMSG_PORT,
  Mode,
  mode,
  Opt,
  type Packet,
  parsePacket,
} from './ipmsg.js';
export {
  type LanAddress,
  type LanMessage,
  LanNode,
  type LanNodeOptions,
  type LanTransport,
  type Peer,
} from './node.js';
export { type Lan, lanTargets, type OpenLanOptions, openLan } from './open.js';
