import { describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import { inflateGrainInto } from '../../../shared/images/grain-inflate';
import { pseudoRandom } from '../../helpers/images/fixtures';

const G = 64 * 1024;
const text = Buffer.from('burstgate grain of compressible text\n'.repeat(2000)).subarray(0, G);

describe('inflateGrainInto', () => {
  it('inflates random, text and zero grains at every level into the given buffer, again and again', () => {
    for (const data of [pseudoRandom(G, 1), text, Buffer.alloc(G)]) {
      for (const level of [0, 1, 6, 9]) {
        // Prepare
        const z = deflateSync(data, { level });
        const out = Buffer.alloc(G, 0xee);
        // Act
        const n = inflateGrainInto(z, out);
        // Assess
        expect(n).toBe(G);
        expect(out.equals(data)).toBe(true);
      }
    }
  });

  it('returns the length of a shorter stream and leaves the rest of the buffer alone', () => {
    // Prepare
    const z = deflateSync(text.subarray(0, 1000));
    const out = Buffer.alloc(G, 0xee);
    // Act
    const n = inflateGrainInto(z, out);
    // Assess
    expect(n).toBe(1000);
    expect(out.subarray(0, 1000).equals(text.subarray(0, 1000))).toBe(true);
    expect(out[1000]).toBe(0xee);
  });

  it('ignores bytes after the end of the stream (padding up to the next sector)', () => {
    const z = Buffer.concat([deflateSync(text), Buffer.alloc(300, 0x5a)]);
    const out = Buffer.alloc(G);
    expect(inflateGrainInto(z, out)).toBe(G);
    expect(out.equals(text)).toBe(true);
  });

  it('throws for truncated, corrupt, empty and too large data, and inflates correctly afterwards', () => {
    const z = deflateSync(text);
    const cases: Array<[string, Buffer, number, RegExp]> = [
      ['truncated', z.subarray(0, z.length - 7), G, /unexpected end/],
      ['cut to one byte', z.subarray(0, 1), G, /unexpected end/],
      ['empty', Buffer.alloc(0), G, /unexpected end/],
      ['corrupt block type', Buffer.from([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff]), G, /invalid/],
      ['bad header', Buffer.from([0x12, 0x34, 0x56]), G, /incorrect header check/],
      ['more than the buffer', z, G - 1, /(more than|larger than) 65535 bytes/],
    ];
    for (const [what, data, size, message] of cases) {
      // Act
      const err = (() => {
        try {
          inflateGrainInto(data, Buffer.alloc(size));
          return undefined;
        } catch (e) {
          return e as Error;
        }
      })();
      // Assess
      expect(err?.message, what).toMatch(message);
      // the next grain is not affected by the failed one
      const out = Buffer.alloc(G);
      expect(inflateGrainInto(deflateSync(text, { level: 1 }), out), what).toBe(G);
      expect(out.equals(text), what).toBe(true);
    }
  });

  it('fills a buffer exactly when the stream ends exactly there', () => {
    const data = pseudoRandom(4096, 7);
    const out = Buffer.alloc(4096);
    expect(inflateGrainInto(deflateSync(data), out)).toBe(4096);
    expect(out.equals(data)).toBe(true);
  });
});
