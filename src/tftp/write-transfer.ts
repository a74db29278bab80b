/**
 * A write request on the server: the upload lands under a temporary name through the
 * receiver state machine, and is placed under its own name only when complete.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ErrorCode, SockitError } from '../errors.js';
import type { TftpError } from './errors.js';
import { BlockWriter } from './io.js';
import { negotiate } from './options.js';
import { encodeError, Opcode, TftpErrorCode } from './packet.js';
import { temporaryBeside } from './paths.js';
import { TftpReceiver } from './receiver.js';
import type { TransferStats } from './sender.js';
import { Transfer } from './transfer.js';

/** The receive buffer asked for uploads; the kernel may give less (net.core.rmem_max). */
const MAX_RECEIVE_BUFFER = 8 * 1024 * 1024;

export class WriteTransfer extends Transfer {
  /** The temporary file, once created, and its name. */
  #created: FileHandle | undefined;
  #temp = '';
  /** Its stream, once there is one: it owns the handle from then on. */
  #file: WriteStream | undefined;
  #failed = false;
  #receiver: TftpReceiver | undefined;

  async run(target: { path: string; name: string }): Promise<void> {
    const { request, link } = this;
    const { files, limits } = this.context;
    const upload = await files.checkUpload(
      target.path,
      target.name,
      this.client,
      request.options.get('tsize'),
    );
    if (upload) return this.deny(upload);
    if (this.over) return;
    // Ask for a receive buffer that holds the largest window we grant, then grant only what fits.
    this.socket.setRecvBufferSize(MAX_RECEIVE_BUFFER);
    const ours = this.socket.getRecvBufferSize() / 2; // Linux reports twice what it charges against
    const negotiated = negotiate(request.options, { ...limits, receiveBuffer: ours }, 'write', undefined);
    if (!negotiated.ok) return this.deny(negotiated);
    const o = negotiated.options;
    const temp = temporaryBeside(target.path);
    const created = await files.createInside(temp);
    if ('code' in created) return this.deny(created);
    this.#created = created;
    this.#temp = temp;
    const file = createWriteStream('', { fd: created });
    this.#file = file;
    if (this.over) return this.#discard();
    const end = (error: string, code: ErrorCode): void => {
      this.#discard();
      this.finish(false, receiver.stats, error, code);
    };
    const writer = new BlockWriter(file, {
      netascii: request.mode === 'netascii',
      onError: () =>
        link.guard(() => {
          if (this.#failed) return;
          link.send(encodeError(TftpErrorCode.DISK_FULL, 'write failed'));
          end('write failed', ErrorCode.IO);
        }),
      onDrain: () => link.guard(() => receiver.resume()),
    });
    const receiver: TftpReceiver = new TftpReceiver(
      { ...this.session(o, negotiated.oack), maxBytes: limits.maxFileSize },
      {
        send: link.send,
        arm: link.arm,
        disarm: link.disarm,
        write: (data) => writer.write(data),
        complete: () =>
          writer
            .finish()
            .then(() => {
              if (this.#failed) throw new SockitError(ErrorCode.ABORTED, 'the upload was aborted');
              return files.place(temp, target.path);
            })
            .then(() => {
              this.state = 'finishing';
              this.finish(true, receiver.stats);
            }),
        // The dally is over: only now may the client's TID be used again.
        close: () => this.release(),
        fail: (err: TftpError) => end(err.message, err.code),
      },
    );
    this.#receiver = receiver;
    this.begin(o.tsize);
    link.attach({
      packet: (packet) => {
        if (packet.opcode === Opcode.DATA) receiver.data(packet.block, packet.data);
        else if (packet.opcode === Opcode.ERROR) {
          end(`client sent ERROR ${packet.code}: ${packet.message}`, ErrorCode.TFTP_REMOTE);
        }
      },
      malformed: (_code, reason) => end(reason, ErrorCode.BAD_REQUEST),
      timeout: () => this.timeout(receiver.stats, () => receiver.timeout()),
    });
    receiver.start();
  }

  protected get progress(): TransferStats | undefined {
    return this.#receiver?.stats;
  }

  protected answerRepeat(): void {
    this.#receiver?.repeat();
  }

  abort(reason: string, tell: boolean): void {
    if (this.state === 'done') return;
    if (this.over) {
      this.release(); // placed, and dallying
      return;
    }
    if (this.#file) this.#discard();
    else if (this.#created) {
      const temp = this.#temp;
      void this.#created.close().then(
        () => this.context.files.discard(temp),
        () => {},
      );
    }
    this.stopWith(reason, tell, this.#receiver?.stats);
  }

  /** Lets go of the part: the stream closes, then the temporary file goes. */
  #discard(): void {
    if (this.#failed || !this.#file) return;
    this.#failed = true;
    const file = this.#file;
    const temp = this.#temp;
    // Unlink once the stream has closed: it may still be creating the file.
    file.once('close', () => void this.context.files.discard(temp));
    file.destroy();
  }
}
