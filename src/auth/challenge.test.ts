import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { CHALLENGE_BYTES, SecretChallengeClient, SecretChallengeServer } from './challenge.js';

const secret = randomBytes(32);
const withCode = (code: string) => expect.objectContaining({ code });

describe('shared-secret challenge', () => {
  it('succeeds when both sides know the secret', () => {
    const client = new SecretChallengeClient(secret);
    const server = new SecretChallengeServer(Buffer.from(secret));
    const clientNonce = client.hello();
    expect(clientNonce).toHaveLength(CHALLENGE_BYTES);
    const { serverNonce, serverProof } = server.hello(clientNonce);
    expect(serverNonce.equals(clientNonce)).toBe(false);
    expect(server.check(client.answer(serverNonce, serverProof))).toBe(true);
  });

  it('the client refuses a server with another secret, before giving its own proof', () => {
    const client = new SecretChallengeClient(secret);
    const impostor = new SecretChallengeServer(randomBytes(32));
    const { serverNonce, serverProof } = impostor.hello(client.hello());
    expect(() => client.answer(serverNonce, serverProof)).toThrow(withCode(ErrorCode.AUTH_FAILED));
  });

  it('the server accepts exactly the documented client proof, and refuses it made with another secret', () => {
    const clientProof = (key: Buffer, clientNonce: Buffer, serverNonce: Buffer) =>
      createHmac('sha256', key)
        .update(Buffer.concat([Buffer.from('sockit client proof v2\0'), clientNonce, serverNonce]))
        .digest();
    const clientNonce = randomBytes(CHALLENGE_BYTES);
    const honest = new SecretChallengeServer(secret);
    expect(honest.check(clientProof(secret, clientNonce, honest.hello(clientNonce).serverNonce))).toBe(true);
    const server = new SecretChallengeServer(secret);
    const { serverNonce } = server.hello(clientNonce);
    expect(server.check(clientProof(randomBytes(32), clientNonce, serverNonce))).toBe(false);
  });

  it("refuses the server's own proof reflected back as the client's", () => {
    const server = new SecretChallengeServer(secret);
    const { serverProof } = server.hello(randomBytes(CHALLENGE_BYTES));
    expect(server.check(serverProof)).toBe(false);
  });

  it('refuses a client proof replayed against a new server nonce', () => {
    const client = new SecretChallengeClient(secret);
    const clientNonce = client.hello();
    const first = new SecretChallengeServer(secret);
    const { serverNonce, serverProof } = first.hello(clientNonce);
    const clientProof = client.answer(serverNonce, serverProof);
    expect(first.check(clientProof)).toBe(true);

    const second = new SecretChallengeServer(secret);
    second.hello(clientNonce);
    expect(second.check(clientProof)).toBe(false);
  });

  it('binds proofs to the context, so an exchange relayed to another connection fails', () => {
    const client = new SecretChallengeClient(secret, { context: Buffer.from('connection A') });
    const server = new SecretChallengeServer(secret, { context: Buffer.from('connection B') });
    const { serverNonce, serverProof } = server.hello(client.hello());
    expect(() => client.answer(serverNonce, serverProof)).toThrow(withCode(ErrorCode.AUTH_FAILED));
  });

  it('gives one try per exchange and refuses steps out of order or malformed nonces', () => {
    const early = new SecretChallengeServer(secret);
    expect(() => early.check(randomBytes(CHALLENGE_BYTES))).toThrow(withCode(ErrorCode.AUTH_PROTOCOL));
    expect(() => new SecretChallengeServer(secret).hello(randomBytes(31))).toThrow(
      withCode(ErrorCode.AUTH_PROTOCOL),
    );
    const server = new SecretChallengeServer(secret);
    const { serverProof } = server.hello(randomBytes(CHALLENGE_BYTES));
    expect(server.check(randomBytes(CHALLENGE_BYTES))).toBe(false);
    expect(() => server.check(serverProof)).toThrow(withCode(ErrorCode.AUTH_PROTOCOL));
    const client = new SecretChallengeClient(secret);
    client.hello();
    expect(() => client.answer(randomBytes(8), serverProof)).toThrow(withCode(ErrorCode.AUTH_PROTOCOL));
  });

  it('rejects secrets shorter than 16 bytes', () => {
    expect(() => new SecretChallengeClient(randomBytes(15))).toThrow(withCode(ErrorCode.INVALID_ARGUMENT));
    expect(() => new SecretChallengeServer(Buffer.from('password'))).toThrow(
      withCode(ErrorCode.INVALID_ARGUMENT),
    );
    expect(() => new SecretChallengeServer(randomBytes(16))).not.toThrow();
  });
});
