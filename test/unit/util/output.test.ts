import test from 'ava';
import { HeadTail, truncateMiddle } from '../../../operator/util/output.ts';

test('HeadTail keeps everything below the limits', (t) => {
  const h = new HeadTail(10, 10);
  h.push(Buffer.from('hello '));
  h.push(Buffer.from('world'));
  t.is(h.total, 11);
  t.false(h.truncated);
  t.is(h.text(), 'hello world');
});

test('HeadTail keeps head and tail of a large stream and counts what it dropped', (t) => {
  const h = new HeadTail(4, 6);
  const chunk = Buffer.from('0123456789');
  for (let i = 0; i < 10_000; i++) h.push(chunk); // 100,000 bytes
  t.is(h.total, 100_000);
  t.is(h.omitted, 100_000 - 4 - 6);
  t.true(h.truncated);
  t.is(h.text(), `0123\n[... 99990 bytes of output omitted ...]\n456789`);
});

test('HeadTail with a chunk spanning head and tail', (t) => {
  const h = new HeadTail(3, 3);
  h.push(Buffer.from('abcdefghij'));
  t.is(h.text(), 'abc\n[... 4 bytes of output omitted ...]\nhij');
});

test('truncateMiddle keeps short text and cuts long text to the limit', (t) => {
  t.is(truncateMiddle('short', 100), 'short');
  const long = 'a'.repeat(500) + 'b'.repeat(500);
  const cut = truncateMiddle(long, 200);
  t.true(cut.startsWith('a'.repeat(68)));
  t.true(cut.endsWith('b'.repeat(68)));
  t.regex(cut, /\[\.\.\. 864 characters omitted \.\.\.\]/);
  t.true(cut.length <= 200 + 40);
});

test('HeadTail cuts on character boundaries: 21 x "é" with 5-byte head and tail is "éé … éé"', (t) => {
  const h = new HeadTail(5, 5);
  h.push(Buffer.from('é'.repeat(21)));
  t.is(h.text(), 'éé\n[... 34 bytes of output omitted ...]\néé');
  t.false(h.text().includes('\uFFFD'));
  // a character split across two chunks and across the head/tail seam, nothing dropped
  const whole = new HeadTail(3, 10);
  const bytes = Buffer.from('aé😀b');
  for (const b of bytes) whole.push(Buffer.from([b]));
  t.is(whole.text(), 'aé😀b');
});

test('truncateMiddle never splits a surrogate pair', (t) => {
  const s = '😀'.repeat(300);
  for (const max of [100, 101, 150, 151]) {
    const cut = truncateMiddle(s, max);
    t.false(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(cut), `max ${max}`);
    t.true(cut.startsWith('😀') && cut.endsWith('😀'));
  }
});
