/**
 * A read request on the server: the file, or a hook's content, goes to the client through
 * the sender state machine.
 */
import { ErrorCode, isSockitError } from '../errors.js';
import type { TftpError } from './errors.js';
import { BlockPump, FILE_READS, FilePump, POOL_READS, type Pump } from './io.js';
import { negotiate } from './options.js';
import { encodeError, Opcode } from './packet.js';
import { TftpSender, type TransferStats } from './sender.js';
import type { Source } from './storage.js';
import { Transfer } from './transfer.js';

export class ReadTransfer extends Transfer {
  /** The file or stream being sent, once opened; the pump owns it once there is one. */
  #content: Source | undefined;
  #pump: Pump | undefined;
  #sender: TftpSender | undefined;

  async run(file: { path: string; name: string }): Promise<void> {
    const { request, link } = this;
    const { files, limits, peerReceiveBuffer } = this.context;
    const netascii = request.mode === 'netascii';
    const content = await files.openForRead(file.path, file.name, this.client);
    if ('code' in content) return this.deny(content);
    if (this.over) return content.close();
    this.#content = content;
    const negotiated = negotiate(
      request.options,
      { ...limits, receiveBuffer: peerReceiveBuffer },
      'read',
      netascii ? undefined : content.size,
    );
    if (!negotiated.ok) {
      content.close();
      return this.deny(negotiated);
    }
    const o = negotiated.options;
    this.socket.setSendBufferSize(
      Math.max(64 * 1024, Math.min(8 * 1024 * 1024, 2 * o.windowsize * (o.blksize + 64))),
    );
    const sender = new TftpSender(this.session(o, negotiated.oack), {
      send: link.send,
      arm: link.arm,
      disarm: link.disarm,
      complete: () => {
        pump.stop();
        this.finish(true, sender.stats);
        this.release();
      },
      fail: (err: TftpError) => {
        pump.stop();
        this.finish(false, sender.stats, err.message, err.code);
      },
    });
    const readFailed = (err: Error): void => {
      // The file (or stream) is let go now, whatever failed: a read, a check, or a defect.
      pump.stop();
      // sockit's own errors say what happened without a path; the system's may not.
      link.send(encodeError(0, isSockitError(err) ? err.message : 'read error'));
      this.finish(false, sender.stats, err.message, ErrorCode.IO);
    };
    // A file in octet mode is read into reused buffers; netascii and hooks' streams go through a stream.
    const pump: Pump =
      content.handle && !netascii
        ? new FilePump(
            content.handle,
            sender,
            readFailed,
            content.local ? { ...content.end, place: FILE_READS } : { place: POOL_READS },
          )
        : new BlockPump(
            content.stream(o.blksize, o.windowsize),
            sender,
            o.blksize,
            netascii,
            readFailed,
            content.end,
          );
    this.#sender = sender;
    this.#pump = pump;
    this.begin(netascii ? undefined : content.size);
    const end = (error: string, code: ErrorCode): void => {
      pump.stop();
      this.finish(false, sender.stats, error, code);
    };
    link.attach({
      packet: (packet) => {
        if (packet.opcode === Opcode.ACK) {
          sender.ack(packet.block);
          pump.pump();
        } else if (packet.opcode === Opcode.ERROR) {
          end(`client sent ERROR ${packet.code}: ${packet.message}`, ErrorCode.TFTP_REMOTE);
        }
      },
      malformed: (_code, reason) => end(reason, ErrorCode.BAD_REQUEST),
      timeout: () => {
        this.timeout(sender.stats, () => sender.timeout());
        pump.pump();
      },
    });
    sender.start();
    pump.start(o.blksize);
  }

  protected get progress(): TransferStats | undefined {
    return this.#sender?.stats;
  }

  protected answerRepeat(): void {
    this.#sender?.repeat();
  }

  abort(reason: string, tell: boolean): void {
    if (this.state === 'done') return;
    // Until the pump exists the content is ours to close; after, the pump's.
    if (this.#pump) this.#pump.stop();
    else this.#content?.close();
    this.stopWith(reason, tell, this.#sender?.stats);
  }
}
