import { describe, expect, it } from 'vitest';
import { ExecRequest } from './requests.js';

describe('exec requests', () => {
  it('takes argv or shell, not both, and no NUL in an argument or the folder', () => {
    expect(ExecRequest.safeParse({ kind: 'exec', argv: ['true'] }).success).toBe(true);
    expect(ExecRequest.safeParse({ kind: 'exec', shell: 'true' }).success).toBe(true);
    expect(ExecRequest.safeParse({ kind: 'exec', argv: ['true'], shell: 'true' }).success).toBe(false);
    expect(ExecRequest.safeParse({ kind: 'exec' }).success).toBe(false);
    expect(ExecRequest.safeParse({ kind: 'exec', argv: ['a\u0000b'] }).success).toBe(false);
    expect(ExecRequest.safeParse({ kind: 'exec', argv: ['true'], cwd: 'sub\u0000/x' }).success).toBe(false);
    expect(ExecRequest.safeParse({ kind: 'exec', argv: ['true'], cwd: 'sub' }).success).toBe(true);
  });
});
