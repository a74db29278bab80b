import { describe, expect, it } from 'vitest';
import { MIN_NODE_MAJOR, tooOldNode } from './node-version.js';

describe('tooOldNode', () => {
  it('refuses a Node older than 22 with one line and a code', () => {
    const line = tooOldNode('20.20.2');
    expect(line).toMatch(/^sockit: Node 20\.20\.2 is too old: .*\[ERR_UNSUPPORTED_PLATFORM\]$/);
    expect(tooOldNode('21.9.0')).toBeDefined();
  });

  it('accepts 22 and newer, including the Node running these tests', () => {
    expect(tooOldNode(`${MIN_NODE_MAJOR}.0.0`)).toBeUndefined();
    expect(tooOldNode('24.12.0')).toBeUndefined();
    expect(tooOldNode(process.versions.node)).toBeUndefined();
  });
});
