import test from 'ava';
import fc from 'fast-check';
import { headChars, headTailChars, headUtf8, tailChars, tailUtf8, utf8HeadEnd } from '../../../operator/util/text.ts';
import { HeadTail } from '../../../operator/util/output.ts';

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

test('headUtf8 / tailUtf8 keep characters whole (é is 2 bytes, 😀 is 4)', (t) => {
  t.is(headUtf8('é'.repeat(21), 5), 'éé');
  t.is(tailUtf8('é'.repeat(21), 5), 'éé');
  t.is(headUtf8('a😀', 4), 'a');
  t.is(headUtf8('a😀', 5), 'a😀');
  t.is(tailUtf8('😀b', 4), 'b');
  t.is(utf8HeadEnd(Buffer.from('é'), 1), 0);
});

test('headChars / tailChars / headTailChars never leave a lone surrogate', (t) => {
  t.is(headChars('a😀', 2), 'a');
  t.is(tailChars('😀b', 2), 'b');
  t.is(headTailChars('x'.repeat(10), 100), 'x'.repeat(10));
  t.regex(headTailChars('x'.repeat(200), 100), /^x+\n\[\.\.\. \d+ characters omitted \.\.\.\]\nx+$/);
});

test('property: every cut of any text decodes to whole characters of the original', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.nat(80), fc.nat(80), (s, a, b) => {
      const bytes = Buffer.from(s, 'utf8');
      const head = headUtf8(bytes, a);
      const tail = tailUtf8(bytes, b);
      if (head.includes('\uFFFD') && !s.includes('\uFFFD')) return false;
      if (tail.includes('\uFFFD') && !s.includes('\uFFFD')) return false;
      if (!s.startsWith(head) || !s.endsWith(tail)) return false;
      if (Buffer.byteLength(head) > a || Buffer.byteLength(tail) > b) return false;
      const hc = headChars(s, a);
      const tc = tailChars(s, b);
      if (loneSurrogate.test(hc) || loneSurrogate.test(tc)) return false;
      const ht = new HeadTail(a % 12, b % 12);
      for (let i = 0; i < bytes.length; i += 3) ht.push(bytes.subarray(i, i + 3));
      return !ht.text().includes('\uFFFD') || s.includes('\uFFFD');
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
