/**
 * The log-in exchange's messages as zod schemas, for the servers that check them; the rest
 * (transports, refusals) is in login-messages.ts, which a client loads without zod.
 */
import { z } from 'zod';
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

const base64 = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/);
const authData = z.string().max(4096);

export const AuthRequest = z.object({
  op: z.literal('auth'),
  mechanism: z.enum(['SCRAM-SHA-256', 'SECRET']),
  data: authData,
  user: z.string().max(255).optional(),
});
export type AuthRequest = z.infer<typeof AuthRequest>;
export const AuthFinal = z.object({ op: z.literal('auth-final'), data: authData });
export const RegisterRequest = z.object({
  op: z.literal('register'),
  user: z.string().max(255),
  salt: base64,
  iterations: z.number().int().min(MIN_ITERATIONS).max(MAX_ITERATIONS),
  storedKey: base64,
  serverKey: base64,
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;
export const LoginRequest = z.discriminatedUnion('op', [AuthRequest, AuthFinal, RegisterRequest]);
