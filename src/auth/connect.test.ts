import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { loadDriver } from './connect.js';

describe('loadDriver', () => {
  it('names the package to install when a driver is missing', async () => {
    const missing = () => import('sockit-no-such-driver' as string);
    await expect(loadDriver('pg', missing)).rejects.toMatchObject({
      code: ErrorCode.DATABASE,
      message: expect.stringContaining('npm install pg'),
    });
  });

  it('loads a driver that is there', async () => {
    const pg = await loadDriver('pg', () => import('pg'));
    expect(typeof pg.default.Pool).toBe('function');
  });
});
