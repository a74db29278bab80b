/**
 * The log-in exchange's messages as zod schemas, for the servers that check them; the rest
 * (transports, refusals) is in login-messages.ts, which a client loads without zod.
 */
import * as z from '../runtime/schema.js';
import { MAX_ITERATIONS, MIN_ITERATIONS } from './credentials.js';

export {
  isOutOfStep,
  type LoginMessage,
  type LoginTransport,
  memoryPair,
  outOfStep,
  refusal,
  ThrottledError,
} from './login-messages.js';

/** Bounded base64 (SCRAM salts and keys). */
export const base64 = z.string().check(z.maxLength(1024), z.regex(/^[A-Za-z0-9+/]*={0,2}$/));
/** A SCRAM message or a SECRET proof. */
export const authData = z.string().check(z.maxLength(4096));

export const AuthRequest = z.object({
  op: z.literal('auth'),
  mechanism: z.enum(['SCRAM-SHA-256', 'SECRET']),
  data: authData,
  user: z.optional(z.string().check(z.maxLength(255))),
});
export type AuthRequest = z.infer<typeof AuthRequest>;
export const AuthFinal = z.object({ op: z.literal('auth-final'), data: authData });
export const RegisterRequest = z.object({
  op: z.literal('register'),
  user: z.string().check(z.maxLength(255)),
  salt: base64,
  iterations: z.int().check(z.minimum(MIN_ITERATIONS), z.maximum(MAX_ITERATIONS)),
  storedKey: base64,
  serverKey: base64,
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;
export const LoginRequest = z.discriminatedUnion('op', [AuthRequest, AuthFinal, RegisterRequest]);
