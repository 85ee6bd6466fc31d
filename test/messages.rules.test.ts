import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DomainError, LimitReached, ValidationFailed } from '../src/domain/errors';
import { PermissionFlags as F } from '../src/domain/permissions';
import { isSnowflake, snowflakeAt } from '../src/domain/snowflake';
import {
  BULK_DELETE_MAX_AGE_MS,
  DEFAULT_MAX_ATTACHMENT_BYTES,
  parseEmoji,
  parseMentions,
  reactionKey,
  requiredPermissionsForMentions,
  slowmodeRemainingMs,
  stripCode,
  validateAttachments,
  validateBulkDelete,
  validateEmbeds,
  validateMessageContent,
} from '../src/domain/messages';

const plain = { premium: false, hasAttachmentsOrEmbeds: false };
const premium = { premium: true, hasAttachmentsOrEmbeds: false };
const withFiles = { premium: false, hasAttachmentsOrEmbeds: true };

function expectError<T extends DomainError>(
  fn: () => unknown,
  type: new (...args: never[]) => T,
  match?: Partial<Record<string, unknown>>,
): T {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a throw').toBeInstanceOf(type);
  if (match) expect(caught).toMatchObject(match);
  return caught as T;
}

describe('validateMessageContent', () => {
  it('accepts 1 and 2000 characters, refuses 2001', () => {
    expect(validateMessageContent('a', plain)).toBe('a');
    expect(validateMessageContent('a'.repeat(2000), plain)).toHaveLength(2000);
    expectError(() => validateMessageContent('a'.repeat(2001), plain), ValidationFailed, {
      field: 'content',
      details: expect.objectContaining({ max: 2000, length: 2001 }),
    });
  });

  it('allows 4000 with premium, refuses 4001', () => {
    expect(validateMessageContent('a'.repeat(4000), premium)).toHaveLength(4000);
    expectError(() => validateMessageContent('a'.repeat(4001), premium), ValidationFailed);
    expectError(
      () => validateMessageContent('a'.repeat(2001), { premium: false, hasAttachmentsOrEmbeds: true }),
      ValidationFailed,
    );
  });

  it('counts UTF-16 code units, as Discord: an astral emoji counts 2', () => {
    const emoji = '😀'; // U+1F600, two code units
    expect(validateMessageContent(emoji.repeat(1000), plain)).toHaveLength(2000);
    expectError(() => validateMessageContent(emoji.repeat(1000) + 'a', plain), ValidationFailed);
  });

  it('normalises CRLF to LF before counting, and nothing else', () => {
    expect(validateMessageContent('a\r\nb', plain)).toBe('a\nb');
    expect(validateMessageContent('  x\r  ', plain)).toBe('  x\r  ');
    expect(validateMessageContent('\u0065\u0301', plain)).toBe('\u0065\u0301'); // no NFC
    // 1000 CRLFs: 2000 units raw, 1000 after normalisation; 1001 CRLF + 999 'a' = 2000 after.
    expect(validateMessageContent('\r\n'.repeat(1001) + 'a'.repeat(999), plain)).toHaveLength(2000);
    expectError(() => validateMessageContent('\r\n'.repeat(1001) + 'a'.repeat(1000), plain), ValidationFailed);
  });

  it('allows empty (or blank) content only with attachments or embeds', () => {
    expectError(() => validateMessageContent('', plain), ValidationFailed);
    expectError(() => validateMessageContent('  \n ', plain), ValidationFailed);
    expect(validateMessageContent('', withFiles)).toBe('');
  });

  it('refuses non-strings, NUL and lone surrogates', () => {
    for (const bad of [undefined, null, 1, {}, [], true, Symbol('x'), 1n])
      expectError(() => validateMessageContent(bad, withFiles), ValidationFailed);
    expectError(() => validateMessageContent('a\u0000b', plain), ValidationFailed);
    expectError(() => validateMessageContent('a\uD83Db', plain), ValidationFailed);
  });
});

describe('parseMentions', () => {
  const u1 = '175928847299117063';
  const u2 = '80351110224678912';
  const r1 = '41771983423143936';
  const c1 = '41771983423143937';

  it('finds users (<@id> and <@!id>), roles, channels, @everyone and @here', () => {
    const m = parseMentions(`hi <@${u1}> and <@!${u2}>, <@&${r1}> in <#${c1}> @everyone @here`);
    expect(m).toEqual({ users: [u1, u2], roles: [r1], channels: [c1], everyone: true, here: true });
  });

  it('deduplicates in first-seen order, <@id> and <@!id> being the same user', () => {
    const m = parseMentions(`<@${u2}> <@${u1}> <@!${u2}> <@${u1}> <#${c1}> <#${c1}>`);
    expect(m.users).toEqual([u2, u1]);
    expect(m.channels).toEqual([c1]);
    expect(parseMentions(`<@0${u1}> <@${u1}>`).users).toEqual([u1]); // canonical form
  });

  it('ignores mentions inside inline code and code blocks', () => {
    expect(parseMentions('`@everyone` ``<@1>`` ```\n<@&2> @here\n``` <#3>')).toEqual({
      users: [],
      roles: [],
      channels: ['3'],
      everyone: false,
      here: false,
    });
    expect(parseMentions('```js\nconst x = "<@5>";\n```')).toMatchObject({ users: [] });
    expect(parseMentions('``a`<@6>`b``').users).toEqual([]);
    // code does not join the two halves of a mention
    expect(parseMentions('<@`x`7>').users).toEqual([]);
  });

  it('counts mentions outside code, and unclosed backticks are plain text', () => {
    expect(parseMentions('`code` <@8> `more`').users).toEqual(['8']);
    expect(parseMentions('``` <@9>').users).toEqual(['9']);
    expect(parseMentions('` <@10>').users).toEqual(['10']);
    expect(parseMentions('`` <@11> `').users).toEqual(['11']);
    expect(parseMentions('```a``` @everyone ```b```')).toMatchObject({ everyone: true });
  });

  it('honours backslash escapes', () => {
    expect(parseMentions('\\@everyone \\<@12>')).toMatchObject({ everyone: false, users: [] });
    expect(parseMentions('\\`<@13>`').users).toEqual(['13']); // escaped backtick opens no code
  });

  it('keeps only valid snowflakes', () => {
    const tooBig = (2n ** 63n).toString();
    expect(parseMentions(`<@${tooBig}> <@123456789012345678901> <@abc> <@> <@-1> <@${u1}>`).users).toEqual([u1]);
  });

  it('returns nothing for non-strings', () => {
    expect(parseMentions(undefined)).toEqual({ users: [], roles: [], channels: [], everyone: false, here: false });
  });

  // Speed is not asserted here (that belongs in bench/); a quadratic scan would still trip the test timeout.
  it('stripCode handles 140k characters of pathological backtick runs, never growing the text', () => {
    const evil = '`'.repeat(1) + 'a``'.repeat(20_000) + '```x'.repeat(20_000);
    expect(stripCode(evil).length).toBeLessThanOrEqual(evil.length);
  });

  it('property: never throws on arbitrary strings and returns only valid, unique snowflakes', () => {
    const piece = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom(
        '<@',
        '<@!',
        '<@&',
        '<#',
        '>',
        '`',
        '```',
        '\\',
        '"',
        "'",
        '&',
        '|',
        '!',
        ':',
        '*',
        '(',
        ')',
        '@everyone',
        '@here',
        '\n',
        '😀',
        '\uD800',
      ),
      fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
    );
    const input = fc.oneof(
      fc.array(piece, { maxLength: 60 }).map((p) => p.join('')),
      fc.string({ unit: 'binary', minLength: 10_000, maxLength: 10_240 }),
    );
    fc.assert(
      fc.property(input, (s) => {
        const m = parseMentions(s);
        for (const list of [m.users, m.roles, m.channels]) {
          for (const id of list) expect(isSnowflake(id)).toBe(true);
          expect(new Set(list).size).toBe(list.length);
        }
        expect(typeof m.everyone).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });

  it('property: a mention wrapped in inline code is never reported', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.constantFrom('<@', '<@!', '<@&', '<#'),
        (id, open) => {
          const m = parseMentions(`\`${open}${id}>\` \`\`\`${open}${id}>\`\`\``);
          expect([...m.users, ...m.roles, ...m.channels]).toEqual([]);
        },
      ),
    );
  });
});

describe('requiredPermissionsForMentions', () => {
  it('needs MENTION_EVERYONE for @everyone or @here only', () => {
    expect(requiredPermissionsForMentions(parseMentions('@everyone'))).toBe(F.MENTION_EVERYONE);
    expect(requiredPermissionsForMentions(parseMentions('@here'))).toBe(F.MENTION_EVERYONE);
    expect(requiredPermissionsForMentions(parseMentions('<@1> <#2> <@&3>'))).toBe(0n);
    expect(requiredPermissionsForMentions(parseMentions('`@everyone`'))).toBe(0n);
  });

  it('needs MENTION_EVERYONE for a role that is not mentionable, when told', () => {
    const m = parseMentions('<@&3> <@&4>');
    expect(requiredPermissionsForMentions(m, { isRoleMentionable: () => true })).toBe(0n);
    expect(requiredPermissionsForMentions(m, { isRoleMentionable: (id) => id !== '4' })).toBe(F.MENTION_EVERYONE);
  });
});

describe('validateEmbeds', () => {
  it('accepts a full embed and normalises it', () => {
    const [e] = validateEmbeds([
      {
        title: 'T',
        description: 'D',
        url: 'https://cryb.example/x',
        color: 0xffffff,
        timestamp: '2024-02-29T12:30:00+02:00',
        footer: { text: 'f', iconUrl: 'http://i.example/f.png' },
        author: { name: 'a', url: 'https://a.example' },
        image: { url: 'https://i.example/1.png' },
        thumbnail: { url: 'https://i.example/2.png' },
        fields: [
          { name: 'n', value: 'v', inline: true },
          { name: 'n2', value: 'v2' },
        ],
      },
    ]);
    expect(e).toEqual({
      title: 'T',
      description: 'D',
      url: 'https://cryb.example/x',
      color: 0xffffff,
      timestamp: '2024-02-29T10:30:00.000Z',
      footer: { text: 'f', iconUrl: 'http://i.example/f.png' },
      author: { name: 'a', url: 'https://a.example' },
      image: { url: 'https://i.example/1.png' },
      thumbnail: { url: 'https://i.example/2.png' },
      fields: [
        { name: 'n', value: 'v', inline: true },
        { name: 'n2', value: 'v2', inline: false },
      ],
    });
    expect(validateEmbeds(undefined)).toEqual([]);
  });

  it('at most 10 embeds', () => {
    expect(validateEmbeds(Array.from({ length: 10 }, () => ({ title: 'x' })))).toHaveLength(10);
    expectError(() => validateEmbeds(Array.from({ length: 11 }, () => ({ title: 'x' }))), LimitReached, {
      limit: 'embedsPerMessage',
      max: 10,
    });
  });

  it.each([
    ['title', 256, (s: string) => ({ title: s })],
    ['description', 4096, (s: string) => ({ description: s })],
    ['field name', 256, (s: string) => ({ fields: [{ name: s, value: 'v' }] })],
    ['field value', 1024, (s: string) => ({ fields: [{ name: 'n', value: s }] })],
    ['footer text', 2048, (s: string) => ({ footer: { text: s } })],
    ['author name', 256, (s: string) => ({ author: { name: s } })],
  ])('%s: %i accepted, one more refused', (_name, max, make) => {
    expect(validateEmbeds([make('x'.repeat(max))])).toHaveLength(1);
    expectError(() => validateEmbeds([make('x'.repeat(max + 1))]), ValidationFailed, {
      details: expect.objectContaining({ max, length: max + 1 }),
    });
  });

  it('at most 25 fields', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `n${i}`, value: 'v' }));
    expect(validateEmbeds([{ fields: fields(25) }])[0].fields).toHaveLength(25);
    expectError(() => validateEmbeds([{ fields: fields(26) }]), LimitReached, { limit: 'embedFields', max: 25 });
  });

  it('6000 characters in total across ALL embeds of the message', () => {
    // 2 embeds: description 4000 + title 256 + footer 1000 = 5256; second: description 744 -> 6000 exactly.
    const first = { title: 't'.repeat(256), description: 'd'.repeat(4000), footer: { text: 'f'.repeat(1000) } };
    expect(validateEmbeds([first, { description: 'd'.repeat(744) }])).toHaveLength(2);
    expectError(() => validateEmbeds([first, { description: 'd'.repeat(745) }]), LimitReached, {
      limit: 'embedTotalCharacters',
      max: 6000,
    });
    // fields and author count too: 5999 + field name 1 + value 1 = 6001
    const base = { description: 'd'.repeat(4096), author: { name: 'a'.repeat(256) } }; // 4352
    const rest = { footer: { text: 'f'.repeat(1647) } }; // 5999
    expect(validateEmbeds([base, rest, { author: { name: 'x' } }])).toHaveLength(3); // 6000
    expectError(() => validateEmbeds([base, rest, { fields: [{ name: 'n', value: 'v' }] }]), LimitReached);
    // url, color and timestamp do not count
    expect(
      validateEmbeds([base, rest, { url: 'https://x.example/' + 'a'.repeat(1000), author: { name: 'x' } }]),
    ).toHaveLength(3);
  });

  it('urls: http(s) only, at most 2048 characters', () => {
    const long = (n: number) => 'https://x.example/' + 'a'.repeat(n - 'https://x.example/'.length);
    expect(validateEmbeds([{ title: 't', url: long(2048) }])[0].url).toHaveLength(2048);
    expectError(() => validateEmbeds([{ title: 't', url: long(2049) }]), ValidationFailed);
    for (const bad of [
      'javascript:alert(1)',
      'ftp://x.example',
      'https://',
      'https://a b.example',
      '//x.example',
      'data:text/html,x',
      42,
    ]) {
      expectError(() => validateEmbeds([{ title: 't', url: bad }]), ValidationFailed);
      expectError(() => validateEmbeds([{ image: { url: bad } }]), ValidationFailed);
    }
  });

  it('color 0..0xFFFFFF', () => {
    expect(validateEmbeds([{ title: 't', color: 0 }])[0].color).toBe(0);
    for (const bad of [-1, 0x1000000, 1.5, '0xff', NaN])
      expectError(() => validateEmbeds([{ title: 't', color: bad }]), ValidationFailed);
  });

  it('timestamp: ISO-8601 with an offset, real dates only', () => {
    expect(validateEmbeds([{ title: 't', timestamp: '2024-01-01T00:00:00.123456789Z' }])[0].timestamp).toBe(
      '2024-01-01T00:00:00.123Z',
    );
    expect(validateEmbeds([{ title: 't', timestamp: '2024-01-01T00:00Z' }])[0].timestamp).toBe(
      '2024-01-01T00:00:00.000Z',
    );
    for (const bad of [
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-01-01',
      '2024-01-01T24:00:00Z',
      'yesterday',
      '2024-01-01T00:00:00',
      '1704067200000',
      1704067200000,
    ]) {
      expectError(() => validateEmbeds([{ title: 't', timestamp: bad }]), ValidationFailed);
    }
  });

  it('refuses unknown keys, empty embeds, bad shapes and empty required texts', () => {
    expectError(() => validateEmbeds([{ title: 't', colour: 1 }]), ValidationFailed, { field: 'embeds[0].colour' });
    expectError(() => validateEmbeds([{}]), ValidationFailed);
    expectError(() => validateEmbeds([{ color: 5 }]), ValidationFailed);
    expectError(() => validateEmbeds({ title: 't' }), ValidationFailed);
    expectError(() => validateEmbeds([{ fields: [{ name: '', value: 'v' }] }]), ValidationFailed);
    expectError(() => validateEmbeds([{ fields: [{ name: 'n', value: 'v', inline: 'yes' }] }]), ValidationFailed);
    expectError(() => validateEmbeds([{ footer: {} }]), ValidationFailed);
  });
});

describe('validateAttachments', () => {
  const file = (over: Record<string, unknown> = {}) => ({
    filename: 'cat.png',
    size: 1024,
    contentType: 'image/png',
    url: 'https://cdn.cryb.example/a/cat.png',
    width: 640,
    height: 480,
    ...over,
  });

  it('accepts up to 10, refuses 11', () => {
    expect(validateAttachments(Array.from({ length: 10 }, () => file()))).toHaveLength(10);
    expectError(() => validateAttachments(Array.from({ length: 11 }, () => file())), LimitReached, {
      limit: 'attachmentsPerMessage',
      max: 10,
    });
    expect(validateAttachments(null)).toEqual([]);
  });

  it('filename: 1-255, no path separators or control characters', () => {
    expect(validateAttachments([file({ filename: 'a'.repeat(255) })])[0].filename).toHaveLength(255);
    for (const bad of [
      '',
      'a'.repeat(256),
      '../etc/passwd',
      'a/b.png',
      'a\\b.png',
      'a\nb',
      'a\u0000b',
      'a\u007fb',
      '.',
      '..',
      5,
    ]) {
      expectError(() => validateAttachments([file({ filename: bad })]), ValidationFailed);
    }
    expect(validateAttachments([file({ filename: 'résumé final (2).pdf' })])[0].filename).toBe('résumé final (2).pdf');
  });

  it('size: 0..25 MiB by default, or the given maximum', () => {
    expect(validateAttachments([file({ size: 0 })])[0].size).toBe(0);
    expect(validateAttachments([file({ size: DEFAULT_MAX_ATTACHMENT_BYTES })])[0].size).toBe(25 * 1024 * 1024);
    expectError(() => validateAttachments([file({ size: DEFAULT_MAX_ATTACHMENT_BYTES + 1 })]), LimitReached, {
      limit: 'attachmentSize',
    });
    expect(validateAttachments([file({ size: 500 })], { maxSizeBytes: 500 })).toHaveLength(1);
    expectError(() => validateAttachments([file({ size: 501 })], { maxSizeBytes: 500 }), LimitReached, { max: 500 });
    for (const bad of [-1, 1.5, '10', NaN, Infinity])
      expectError(() => validateAttachments([file({ size: bad })]), ValidationFailed);
  });

  it('contentType must look like a MIME type', () => {
    for (const ok of [
      'image/png',
      'application/vnd.ms-excel',
      'text/plain; charset=utf-8',
      'image/svg+xml',
      'multipart/x; boundary="a b"',
    ]) {
      expect(validateAttachments([file({ contentType: ok })])[0].contentType).toBe(ok);
    }
    for (const bad of ['png', '', 'image/', '/png', 'image/png/x', 'text/html\n', 'image/p ng', null]) {
      expectError(() => validateAttachments([file({ contentType: bad })]), ValidationFailed);
    }
  });

  it('url http(s); width and height positive integers or both null', () => {
    expectError(() => validateAttachments([file({ url: 'file:///etc/passwd' })]), ValidationFailed);
    expect(validateAttachments([file({ width: null, height: null })])[0]).toMatchObject({ width: null, height: null });
    expect(validateAttachments([file({ width: undefined, height: undefined })])[0]).toMatchObject({
      width: null,
      height: null,
    });
    expect(validateAttachments([file({ width: 1, height: 1 })])[0]).toMatchObject({ width: 1, height: 1 });
    for (const bad of [0, -1, 1.5, '1'])
      expectError(() => validateAttachments([file({ width: bad })]), ValidationFailed);
    expectError(() => validateAttachments([file({ width: 10, height: null })]), ValidationFailed);
    expectError(() => validateAttachments([file({ proxyUrl: 'https://x.example' })]), ValidationFailed);
  });
});

describe('parseEmoji and reactionKey', () => {
  it('parses custom emoji forms', () => {
    expect(parseEmoji('<:cryb:123456789012345678>')).toEqual({
      kind: 'custom',
      id: '123456789012345678',
      name: 'cryb',
      animated: false,
    });
    expect(parseEmoji('<a:party_blob:42>')).toEqual({ kind: 'custom', id: '42', name: 'party_blob', animated: true });
    expect(parseEmoji('cryb:00123')).toEqual({ kind: 'custom', id: '123', name: 'cryb', animated: false });
  });

  it('parses Unicode emoji, including sequences and keycaps', () => {
    for (const e of ['👍', '❤️', '👨‍👩‍👧‍👦', '🇫🇷', '1️⃣', '👍🏽', '©'])
      expect(parseEmoji(e)).toEqual({ kind: 'unicode', name: e });
  });

  it('Unicode emoji: at most 32 code points', () => {
    expect(parseEmoji('😀'.repeat(32))).toMatchObject({ kind: 'unicode' });
    expectError(() => parseEmoji('😀'.repeat(33)), ValidationFailed);
  });

  it('refuses malformed input', () => {
    for (const bad of [
      '',
      'abc',
      '123',
      ':)',
      '<:x:1>',
      '<:name:abc>',
      `name:${2n ** 63n}`,
      '<b:name:1>',
      '👍 👍',
      '👍\n',
      '\uD83D',
      'a'.repeat(33) + ':1',
      1,
      null,
      {},
    ]) {
      expectError(() => parseEmoji(bad), ValidationFailed);
    }
  });

  it('keys: u:<name> and c:<id>; the custom name and animation do not matter', () => {
    expect(reactionKey(parseEmoji('👍'))).toBe('u:👍');
    expect(reactionKey(parseEmoji('<:a_b:7>'))).toBe('c:7');
    expect(reactionKey(parseEmoji('<a:other:7>'))).toBe(reactionKey(parseEmoji('renamed:07')));
    expect(reactionKey(parseEmoji('❤'))).not.toBe(reactionKey(parseEmoji('❤️')));
  });
});

describe('slowmode', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  const base = {
    rateLimitPerUser: 10,
    lastMessageAt: new Date(now.getTime() - 4000),
    now,
    permissions: F.SEND_MESSAGES | F.VIEW_CHANNEL,
  };

  it('returns the remaining milliseconds, 0 at the boundary', () => {
    expect(slowmodeRemainingMs(base)).toBe(6000);
    expect(slowmodeRemainingMs({ ...base, lastMessageAt: now.getTime() - 9999 })).toBe(1);
    expect(slowmodeRemainingMs({ ...base, lastMessageAt: now.getTime() - 10_000 })).toBe(0);
    expect(slowmodeRemainingMs({ ...base, lastMessageAt: null })).toBe(0);
    expect(slowmodeRemainingMs({ ...base, rateLimitPerUser: 0 })).toBe(0);
    expect(slowmodeRemainingMs({ ...base, lastMessageAt: now.getTime() + 60_000 })).toBe(10_000); // skew capped
  });

  it.each(['BYPASS_SLOWMODE', 'MANAGE_MESSAGES', 'MANAGE_CHANNELS'] as const)('%s bypasses', (flag) => {
    expect(slowmodeRemainingMs({ ...base, permissions: base.permissions | F[flag] })).toBe(0);
  });

  it('rateLimitPerUser is 0-21600', () => {
    expect(slowmodeRemainingMs({ ...base, rateLimitPerUser: 21_600 })).toBe(21_596_000);
    for (const bad of [21_601, -1, 1.5, NaN])
      expectError(() => slowmodeRemainingMs({ ...base, rateLimitPerUser: bad }), ValidationFailed);
  });
});

describe('validateBulkDelete', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  const at = (msAgo: number, n = 0) => (BigInt(snowflakeAt(new Date(now.getTime() - msAgo))) + BigInt(n)).toString();
  const ids = (count: number) => Array.from({ length: count }, (_, i) => at(1000, i));

  it('takes 2-100 ids', () => {
    expect(validateBulkDelete(ids(2), now)).toHaveLength(2);
    expect(validateBulkDelete(ids(100), now)).toHaveLength(100);
    expectError(() => validateBulkDelete(ids(1), now), ValidationFailed);
    expectError(() => validateBulkDelete([], now), ValidationFailed);
    expectError(() => validateBulkDelete(ids(101), now), LimitReached, { limit: 'bulkDelete', max: 100 });
  });

  it('refuses duplicates and non-snowflakes', () => {
    const [a, b] = ids(2) as [string, string];
    expectError(() => validateBulkDelete([a, b, a], now), ValidationFailed);
    expectError(() => validateBulkDelete([a, `0${a}`], now), ValidationFailed);
    for (const bad of ['x', '', '-1', (2n ** 63n).toString(), 5, null])
      expectError(() => validateBulkDelete([a, bad], now), ValidationFailed);
    expectError(() => validateBulkDelete('1,2', now), ValidationFailed);
  });

  it('messages exactly 14 days old pass; 1 ms older are refused', () => {
    expect(validateBulkDelete([at(BULK_DELETE_MAX_AGE_MS), at(0)], now)).toHaveLength(2);
    expectError(() => validateBulkDelete([at(0), at(BULK_DELETE_MAX_AGE_MS + 1)], now), ValidationFailed, {
      field: 'messages[1]',
    });
  });
});

describe('validators under arbitrary input', () => {
  const onlyDomainErrors = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      expect(e).toSatisfy((x: unknown) => x instanceof ValidationFailed || x instanceof LimitReached);
    }
  };
  const anything = fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withSparseArray: true,
    withBoxedValues: true,
    withTypedArray: true,
  });
  // Shapes close to valid ones reach deeper code paths than pure noise does.
  const nearString = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.constantFrom('https://x.example', 'image/png', '2024-01-01T00:00:00Z', 'a.png', '👍', '<:a:1>'),
  );
  const nearValue = fc.oneof(anything, nearString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  const nearEmbed = fc.record(
    {
      title: nearValue,
      description: nearValue,
      url: nearValue,
      color: nearValue,
      timestamp: nearValue,
      footer: fc.oneof(nearValue, fc.record({ text: nearValue, iconUrl: nearValue }, { requiredKeys: [] })),
      author: fc.oneof(nearValue, fc.record({ name: nearValue, url: nearValue }, { requiredKeys: [] })),
      image: fc.oneof(nearValue, fc.record({ url: nearValue })),
      fields: fc.oneof(
        nearValue,
        fc.array(
          fc.oneof(
            nearValue,
            fc.record({ name: nearValue, value: nearValue, inline: nearValue }, { requiredKeys: [] }),
          ),
          { maxLength: 30 },
        ),
      ),
    },
    { requiredKeys: [] },
  );
  const nearAttachment = fc.record(
    {
      filename: nearValue,
      size: nearValue,
      contentType: nearValue,
      url: nearValue,
      width: nearValue,
      height: nearValue,
    },
    { requiredKeys: [] },
  );

  // A valid value with exactly one property replaced by noise: every check is reached, not just the first.
  const validEmbed = () => ({
    title: 't',
    description: 'd',
    url: 'https://x.example',
    color: 1,
    timestamp: '2024-01-01T00:00:00Z',
    footer: { text: 'f', iconUrl: 'https://x.example/i' },
    author: { name: 'a', url: 'https://x.example', iconUrl: 'https://x.example/i' },
    image: { url: 'https://x.example/i' },
    thumbnail: { url: 'https://x.example/t' },
    fields: [{ name: 'n', value: 'v', inline: true }],
  });
  const onePath = fc.constantFrom(
    ['title'],
    ['description'],
    ['url'],
    ['color'],
    ['timestamp'],
    ['footer'],
    ['footer', 'text'],
    ['footer', 'iconUrl'],
    ['author'],
    ['author', 'name'],
    ['author', 'url'],
    ['author', 'iconUrl'],
    ['image'],
    ['image', 'url'],
    ['thumbnail'],
    ['thumbnail', 'url'],
    ['fields'],
    ['fields', '0'],
    ['fields', '0', 'name'],
    ['fields', '0', 'value'],
    ['fields', '0', 'inline'],
  );
  const noisyEmbed = fc.tuple(onePath, nearValue).map(([path, value]) => {
    const e: Record<string, unknown> = validEmbed();
    let at: Record<string, unknown> = e;
    for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
    at[path[path.length - 1]] = value;
    return e;
  });
  const noisyAttachment = fc
    .tuple(fc.constantFrom('filename', 'size', 'contentType', 'url', 'width', 'height'), nearValue)
    .map(([key, value]) => ({
      filename: 'a.png',
      size: 1,
      contentType: 'image/png',
      url: 'https://x.example/a.png',
      width: 1,
      height: 1,
      [key]: value,
    }));

  it('valid bases with one noisy property are judged without a TypeError', () => {
    expect(validateEmbeds([validEmbed()])).toHaveLength(1);
    fc.assert(
      fc.property(fc.array(noisyEmbed, { minLength: 1, maxLength: 3 }), (v) =>
        onlyDomainErrors(() => validateEmbeds(v)),
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.array(noisyAttachment, { minLength: 1, maxLength: 3 }), (v) =>
        onlyDomainErrors(() => validateAttachments(v)),
      ),
      { numRuns: 1000 },
    );
  });

  it('throw only ValidationFailed or LimitReached, never a TypeError', () => {
    fc.assert(
      fc.property(nearValue, fc.boolean(), fc.boolean(), (v, p, h) =>
        onlyDomainErrors(() => validateMessageContent(v, { premium: p, hasAttachmentsOrEmbeds: h })),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.oneof(nearValue, fc.array(fc.oneof(nearEmbed, nearValue), { maxLength: 12 })), (v) =>
        onlyDomainErrors(() => validateEmbeds(v)),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.oneof(nearValue, fc.array(fc.oneof(nearAttachment, nearValue), { maxLength: 12 })), (v) =>
        onlyDomainErrors(() => validateAttachments(v)),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(nearValue, (v) => onlyDomainErrors(() => parseEmoji(v))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          nearValue,
          fc.array(fc.oneof(nearValue, fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String)), { maxLength: 110 }),
        ),
        (v) => onlyDomainErrors(() => validateBulkDelete(v, Date.now())),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.double()),
        fc.oneof(fc.date({ noInvalidDate: false }), fc.integer(), fc.constant(null)),
        fc.bigInt({ min: 0n, max: 2n ** 60n }),
        (r, last, perms) =>
          onlyDomainErrors(() =>
            slowmodeRemainingMs({ rateLimitPerUser: r, lastMessageAt: last, now: new Date(), permissions: perms }),
          ),
      ),
      { numRuns: 300 },
    );
  });

  it('valid embeds round-trip: whatever validateEmbeds returns, it accepts again unchanged', () => {
    fc.assert(
      fc.property(fc.array(nearEmbed, { maxLength: 3 }), (v) => {
        let out: unknown;
        try {
          out = validateEmbeds(v);
        } catch (e) {
          if (e instanceof DomainError) return;
          throw e;
        }
        expect(validateEmbeds(out)).toEqual(out);
      }),
      { numRuns: 300 },
    );
  });
});
