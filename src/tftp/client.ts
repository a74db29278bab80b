/**
 * The TFTP client: `tftpGet` downloads into a stream, `tftpPut` uploads from one. Options
 * are asked for in the request; an OACK is checked against what was asked (ERROR 8 if it
 * oversteps), and a server that answers with plain DATA or ACK 0 gets the defaults.
 */
import type { Readable, Writable } from 'node:stream';
import { ErrorCode } from '../errors.js';
import { silentLogger } from '../runtime/log.js';
import {
  abortError,
  checkOack,
  endOnOther,
  failOnDefect,
  observeTransfer,
  onAbort,
  openLink,
  refusedOptions,
  requestOptions,
  sessionDefaults,
  type TftpClientOptions,
  type TftpResult,
  withOptionFallback,
} from './client-setup.js';
import { localError, TftpError } from './errors.js';
import { BlockPump, BlockWriter } from './io.js';
import { DEFAULT_BLKSIZE, type TransferOptions } from './options.js';
import { encodeError, encodeRequest, Opcode, type Packet, TftpErrorCode } from './packet.js';
import { TftpReceiver } from './receiver.js';
import { TftpSender } from './sender.js';
import { ClientTrace } from './trace.js';

export type { TftpClientOptions, TftpResult } from './client-setup.js';

/**
 * Downloads `remote` into `output`.
 *
 * @example
 * ```ts
 * await tftpGet({ host: '127.0.0.1', port: 6969, blksize: 1428 }, 'pxelinux.0', createWriteStream('pxelinux.0'));
 * ```
 */
export async function tftpGet(
  opts: TftpClientOptions,
  remote: string,
  output: Writable,
): Promise<TftpResult> {
  if (opts.signal?.aborted) throw abortError(opts.signal);
  return observeTransfer('in', undefined, () =>
    withOptionFallback(opts, (withOptions) => getOnce(opts, remote, output, withOptions)),
  );
}

async function getOnce(
  opts: TftpClientOptions,
  remote: string,
  output: Writable,
  withOptions: boolean,
): Promise<TftpResult> {
  const { link, server, buffer } = await openLink(opts);
  const asked = withOptions ? requestOptions(opts, 0, buffer) : new Map<string, string>();
  let oackSeen = false;
  const began = Date.now();
  let negotiated: TransferOptions = {
    blksize: DEFAULT_BLKSIZE,
    windowsize: 1,
    timeoutMs: undefined,
    tsize: undefined,
  };
  const trace = new ClientTrace(opts.log ?? silentLogger, asked);
  const session = sessionDefaults(opts);
  return new Promise<TftpResult>((resolve, reject) => {
    let settled = false;
    let untie = (): void => {};
    const settle = (err?: TftpError | Error): void => {
      if (settled) return;
      settled = true;
      untie();
      // On success the link stays open through the dally, to repeat a lost final ACK.
      if (err) {
        link.close();
        reject(err);
        return;
      }
      const ms = Date.now() - began;
      trace.done(receiver.stats, ms);
      resolve({ ...receiver.stats, options: negotiated, ms });
    };
    const request = encodeRequest(Opcode.RRQ, remote, opts.mode ?? 'octet', asked);
    const receiver = new TftpReceiver(
      {
        ...session,
        initial: request,
        // The dally holds a command line after its file is complete: one second covers a
        // server whose timer has not backed off; the receiver stays longer after losses.
        dallyMs: 1000,
      },
      {
        send: (packet) => link.send(packet, link.peer ?? server),
        arm: link.arm,
        disarm: link.disarm,
        write: (data) => {
          const ready = writer.write(data);
          opts.onProgress?.(receiver.stats.bytes, negotiated.tsize);
          return ready;
        },
        complete: () =>
          writer
            .finish()
            .then(() => settle(cutShort(opts.mode ?? 'octet', negotiated.tsize, receiver.stats.bytes))),
        close: () => link.close(),
        fail: settle,
      },
    );
    const writer = new BlockWriter(output, {
      netascii: opts.mode === 'netascii',
      onDrain: () => link.guard(() => receiver.resume()),
      // The output failed (a full disk, a closed pipe): the transfer ends now, not after
      // the rest of the file has come in for nothing.
      onError: (err) =>
        link.guard(() => {
          const code = (err as NodeJS.ErrnoException).code;
          const full = code === 'ENOSPC' || code === 'EDQUOT';
          const tftpCode = full ? TftpErrorCode.DISK_FULL : TftpErrorCode.NOT_DEFINED;
          link.send(encodeError(tftpCode, full ? 'disk full on the client' : 'the client cannot write'));
          settle(localError(tftpCode, `cannot write the output: ${err.message}`));
        }),
    });
    link.attach({
      packet: (packet: Packet) => {
        trace.packet(packet, link);
        switch (packet.opcode) {
          case Opcode.DATA:
            receiver.data(packet.block, packet.data);
            return;
          case Opcode.OACK: {
            if (receiver.stats.blocks > 0) return;
            const accepted = checkOack(asked, packet.options, link, settle);
            if (!accepted) return;
            negotiated = accepted;
            oackSeen = true;
            trace.negotiated(packet.options);
            receiver.configure(negotiated.blksize, negotiated.windowsize);
            receiver.acknowledgeOptions();
            return;
          }
          default:
            endOnOther(packet, link, settle, asked.size > 0 && !oackSeen && receiver.stats.blocks === 0);
        }
      },
      malformed: (code, reason) => settle(localError(code, reason)),
      timeout: () => trace.timeout(session.rto.ms, receiver.stats, () => receiver.timeout()),
    });
    failOnDefect(link, settle);
    untie = onAbort(opts.signal, link, settle);
    trace.request('RRQ', remote, opts.mode ?? 'octet', server, link);
    receiver.start();
  });
}

/**
 * A download that ended with fewer bytes than the server announced in tsize: the server's
 * file was cut short while it was being sent (tftpd-hpa and atftpd then end with a short
 * block as if the file were whole), and the client holds its old head alone. Octet mode
 * only: in netascii the bytes on the wire are the file's after conversion. More than
 * announced is a file that grew meanwhile, whole up to the announced size: kept.
 */
function cutShort(mode: string, tsize: number | undefined, bytes: number): TftpError | undefined {
  if (mode !== 'octet' || tsize === undefined || bytes >= tsize) return undefined;
  return new TftpError(
    ErrorCode.INTEGRITY,
    `the server announced ${tsize} bytes (tsize) and sent ${bytes}: the file was cut short while it was being sent`,
    undefined,
  );
}

/**
 * Uploads `input` as `remote`. `size` (when known) is sent as tsize if `opts.tsize` is set,
 * and an input that ends before it fails the upload (no short last block is sent: the
 * server would take what came for the whole file).
 *
 * @example
 * ```ts
 * await tftpPut({ host: '127.0.0.1', port: 6969 }, 'config.txt', createReadStream('config.txt'));
 * ```
 */
export async function tftpPut(
  opts: TftpClientOptions,
  remote: string,
  input: Readable,
  size?: number,
): Promise<TftpResult> {
  if (opts.signal?.aborted) throw abortError(opts.signal);
  // Between a try refused for its options and the next, no pump listens to the input: an
  // error then must not go unhandled (the next pump finds it on the stream).
  const unheard = (): void => {};
  input.on('error', unheard);
  try {
    return await observeTransfer('out', size, () =>
      withOptionFallback(opts, (withOptions) => putOnce(opts, remote, input, size, withOptions)),
    );
  } finally {
    input.off('error', unheard);
  }
}

async function putOnce(
  opts: TftpClientOptions,
  remote: string,
  input: Readable,
  size: number | undefined,
  withOptions: boolean,
): Promise<TftpResult> {
  const { link, server } = await openLink(opts);
  // An upload's window lands in the server's buffer, which a default one is assumed to be.
  // In netascii the bytes sent are the file's after conversion: their count is not known ahead.
  const stated = opts.mode === 'netascii' ? undefined : size;
  const asked = withOptions ? requestOptions(opts, stated, 212_992) : new Map<string, string>();
  const began = Date.now();
  let oackSeen = false;
  let negotiated: TransferOptions = {
    blksize: DEFAULT_BLKSIZE,
    windowsize: 1,
    timeoutMs: undefined,
    tsize: size,
  };
  const trace = new ClientTrace(opts.log ?? silentLogger, asked);
  const session = sessionDefaults(opts);
  return new Promise<TftpResult>((resolve, reject) => {
    let settled = false;
    let untie = (): void => {};
    const settle = (err?: TftpError | Error): void => {
      if (settled) return;
      settled = true;
      untie();
      link.close();
      // Refused options are asked again without: the input, not yet read, goes to that try.
      if (err instanceof TftpError && refusedOptions.has(err)) pump.release();
      else pump.stop();
      if (err) {
        reject(err);
        return;
      }
      const ms = Date.now() - began;
      trace.done(sender.stats, ms);
      resolve({ ...sender.stats, options: negotiated, ms });
    };
    const sender = new TftpSender(
      {
        ...session,
        initial: encodeRequest(Opcode.WRQ, remote, opts.mode ?? 'octet', asked),
      },
      {
        send: (packet) => link.send(packet, link.peer ?? server),
        arm: link.arm,
        disarm: link.disarm,
        complete: () => settle(),
        fail: settle,
      },
    );
    // With its size given, an input that ends short fails the upload (BlockPump's `size`).
    const pump = new BlockPump(
      input,
      sender,
      DEFAULT_BLKSIZE,
      opts.mode === 'netascii',
      (err) => {
        link.send(encodeError(TftpErrorCode.NOT_DEFINED, 'read error on the client'));
        settle(localError(TftpErrorCode.NOT_DEFINED, `cannot read the input: ${err.message}`));
      },
      size === undefined ? {} : { size },
    );
    const begin = (): void => {
      sender.ack(0);
      pump.start(negotiated.blksize);
    };
    link.attach({
      packet: (packet: Packet) => {
        trace.packet(packet, link);
        switch (packet.opcode) {
          case Opcode.ACK:
            if (packet.block === 0 && sender.stats.blocks === 0) return begin();
            sender.ack(packet.block);
            opts.onProgress?.(sender.stats.bytes, size);
            pump.pump();
            return;
          case Opcode.OACK: {
            if (oackSeen || sender.stats.blocks > 0) return;
            const accepted = checkOack(asked, packet.options, link, settle);
            if (!accepted) return;
            oackSeen = true;
            trace.negotiated(packet.options);
            negotiated = { ...accepted, tsize: accepted.tsize ?? size };
            sender.configure(negotiated.blksize, negotiated.windowsize);
            begin();
            return;
          }
          default:
            // Once an OACK started the transfer, the input is being read: no asking again.
            endOnOther(packet, link, settle, asked.size > 0 && !oackSeen && sender.stats.blocks === 0);
        }
      },
      malformed: (code, reason) => settle(localError(code, reason)),
      timeout: () => {
        trace.timeout(session.rto.ms, sender.stats, () => sender.timeout());
        pump.pump();
      },
    });
    failOnDefect(link, settle);
    untie = onAbort(opts.signal, link, settle);
    trace.request('WRQ', remote, opts.mode ?? 'octet', server, link);
    sender.start();
  });
}
