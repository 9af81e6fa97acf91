import type { RandomAccessOpener } from './random-access-disk';
import { readSourceInto } from './source';

/** The raw format opened for random access: every byte is data; zeros are found by looking. */
export const openRaw: RandomAccessOpener = async (src) => ({
  format: 'raw',
  capacity: src.size,
  map: async function* (offset = 0, length = src.size - offset) {
    if (length > 0) yield { offset, length, zero: false };
  },
  read: (offset, length) => src.read(offset, length),
  readInto: (offset, target) => readSourceInto(src, offset, target),
});
