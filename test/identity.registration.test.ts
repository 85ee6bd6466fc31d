import { User } from '../src/entities/user/User';
import { UserService } from '../src/identity/user-service';
import { describe, expect, it } from 'vitest';
import { DiscriminatorsExhausted, ValidationFailed } from '../src/domain/errors';
import { fulfilled, race, rejected, useTestDatabase } from './support/db';

const db = useTestDatabase({ poolSize: 30 });

describe('registration', () => {
  it('gives two registrations of one username distinct discriminators', async () => {
    const a = await new UserService(db().fork()).register({ username: 'Nova' });
    const b = await new UserService(db().fork()).register({ username: 'nova' });
    expect(a.discriminator).not.toBe(b.discriminator);
    expect(a.discriminator).toMatch(/^[0-9]{4}$/);
    const rows = await db().sql<{ n: string }>(`select count(*) as n from "User" where lower(username) = 'nova'`);
    expect(Number(rows[0].n)).toBe(2);
  });

  it('200 concurrent registrations of one username end in 200 distinct discriminators, none lost', async () => {
    const results = await race(db(), 200, (em) => new UserService(em).register({ username: 'crowded' }));
    expect(rejected(results)).toEqual([]);
    const users = fulfilled(results);
    expect(new Set(users.map((u) => u.discriminator)).size).toBe(200);
    const rows = await db().sql<{ n: string; d: string }>(
      `select count(*) as n, count(distinct discriminator) as d from "User" where lower(username) = 'crowded'`,
    );
    expect(rows[0]).toEqual({ n: '200', d: '200' });
  });

  it('throws DiscriminatorsExhausted when all 9999 are taken, and writes nothing', async () => {
    await db().sql(
      `insert into "User" (id, username, discriminator) select 900000000000 + n, 'Full', lpad(n::text, 4, '0')
        from generate_series(1, 9999) n`,
    );
    await db().sql(`insert into "UserPresence" ("userId") select id from "User" where username = 'Full'`);
    await expect(new UserService(db().fork()).register({ username: 'full' })).rejects.toBeInstanceOf(
      DiscriminatorsExhausted,
    );
    const rows = await db().sql<{ n: string }>(`select count(*) as n from "User" where lower(username) = 'full'`);
    expect(rows[0].n).toBe('9999');
  });

  it('rejects bad usernames with ValidationFailed', async () => {
    for (const username of ['', 'a', 'x'.repeat(33), 'everyone', 'HERE', 'a@b', 'a#b', 'a:b', 'a```b', 'tab\tname']) {
      await expect(new UserService(db().fork()).register({ username }), username).rejects.toBeInstanceOf(
        ValidationFailed,
      );
    }
  });
});

// ---- names compared as people see them (issue 16) ---------------------------------------------

const hex = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Row counts any registration would change. */
async function writes() {
  const [row] = await db().sql(
    `select (select count(*) from "User")::int as users, (select count(*) from "UserPresence")::int as presences,
            (select count(*) from "DomainEvent")::int as events`,
  );
  return row;
}

async function refusal(username: unknown, displayName?: unknown): Promise<ValidationFailed> {
  try {
    await new UserService(db().fork()).register({ username, displayName } as never);
  } catch (error) {
    expect(error, String(username)).toBeInstanceOf(ValidationFailed);
    return error as ValidationFailed;
  }
  throw new Error(`expected ${JSON.stringify(username)} to be refused`);
}

/**
 * Each invisible class the issue names, and the blank or format characters the property leaves out.
 * Most of these were accepted before: the old rule knew only the zero-width and bidi controls.
 */
const INVISIBLES: [string, string][] = [
  ['zero width space (Default_Ignorable)', '\u200b'],
  ['word joiner (Default_Ignorable)', '\u2060'],
  ['variation selector 16 outside an emoji', '\ufe0f'],
  ['variation selector 17', '\u{e0100}'],
  ['Khmer inherent vowel', '\u17b4'],
  ['Hangul choseong filler', '\u115f'],
  ['Hangul jungseong filler', '\u1160'],
  ['Hangul filler', '\u3164'],
  ['halfwidth Hangul filler', '\uffa0'],
  ['Braille pattern blank', '\u2800'],
  ['tag: language tag', '\u{e0001}'],
  ['tag: latin small letter a', '\u{e0061}'],
  ['tag: cancel tag', '\u{e007f}'],
  ['combining grapheme joiner', '\u034f'],
  ['soft hyphen', '\u00ad'],
  ['Mongolian vowel separator', '\u180e'],
  ['Arabic letter mark', '\u061c'],
  ['interlinear annotation anchor', '\ufff9'],
  ['interlinear annotation terminator', '\ufffb'],
  ['musical symbol null notehead', '\u{1d159}'],
  ['Egyptian hieroglyph vertical joiner', '\u{13430}'],
  ['shorthand format letter overlap', '\u{1bca0}'],
];

describe('usernames and display names are compared as people see them', () => {
  it('refuses every invisible or default-ignorable code point, inside a name or as the whole of it, and writes nothing', async () => {
    const before = await writes();
    for (const [what, char] of INVISIBLES) {
      for (const username of [`Vis${char}ible`, `Name${char}`, char.repeat(3), `${char}${char}ab`]) {
        const error = await refusal(username);
        expect(error.field, what).toBe('username');
        expect(error.details.codePoint, what).toBe(hex(char));
      }
      const error = await refusal('Visible', `Dis${char}play`);
      expect(error.field, what).toBe('displayName');
      expect(error.details.codePoint, what).toBe(hex(char));
    }
    expect(await writes()).toEqual(before);
  });

  it('refuses lookalikes of the reserved names: NFKC forms, other scripts, digits for letters; and writes nothing', async () => {
    const before = await writes();
    const lookalikes: [string, string][] = [
      ['\uff45\uff56\uff45\uff52\uff59\uff4f\uff4e\uff45', 'everyone'], // fullwidth
      ['\u0435v\u0435r\u0443\u043en\u0435', 'everyone'], // Cyrillic е, у, о
      ['EVERY0NE', 'everyone'], // digit zero for O
      ['𝓮𝓿𝓮𝓻𝔂𝓸𝓷𝓮', 'everyone'], // mathematical script
      ['ᵉᵛᵉʳʸᵒⁿᵉ', 'everyone'], // modifier letters
      ['\u041d\u0415R\u0415', 'here'], // Cyrillic Н, Е
      ['h\u0435r\u0435', 'here'],
      ['\u04bbere', 'here'], // Cyrillic shha
      ['  \uff28\uff25\uff32\uff25  ', 'here'],
    ];
    for (const [name, reserved] of lookalikes) {
      const error = await refusal(name);
      expect(error.field, name).toBe('username');
      expect(error.details.reserved, name).toBe(reserved);
      const display = await refusal('Plain', name);
      expect(display.field, name).toBe('displayName');
      expect(display.details.reserved, name).toBe(reserved);
    }
    expect(await writes()).toEqual(before);
  });

  it('refuses lookalikes of the tag and mention separators and of the code fence, as it refuses @ # : and ```', async () => {
    const before = await writes();
    const lookalikes = [
      'a\uff03b', // fullwidth number sign
      'a\ufe5fb', // small number sign
      'a\uff20b', // fullwidth commercial at
      'a\ufe6bb', // small commercial at
      'a\uff1ab', // fullwidth colon
      'a\ufe55b', // small colon
      'a\ufe13b', // vertical colon
      'a\u2236b', // ratio (confusables data)
      'a\u0589b', // Armenian full stop (confusables data)
      'a\ua789b', // modifier letter colon (confusables data)
      'a\uff40\uff40\uff40b', // fullwidth grave accents
    ];
    for (const name of lookalikes) {
      const error = await refusal(name);
      expect(error.field, name).toBe('username');
      expect(error.reason, name).toMatch(/@, # or :|```/);
    }
    expect(await writes()).toEqual(before);
  });

  it('keeps what only looks odd: letters that resemble a colon, emoji sequences, separators in display names', async () => {
    // The Devanagari visarga is a letter sign that looks like a colon; refusing it would refuse Hindi words.
    expect((await new UserService(db().fork()).register({ username: 'नमः' })).username).toBe('नमः');
    // Joiners and variation selectors inside a standard emoji sequence are part of a visible emoji.
    expect(
      (await new UserService(db().fork()).register({ username: 'dev👨‍💻', displayName: 'I ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿' })).displayName,
    ).toBe('I ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿');
    // A display name may hold "#" and "@", so it may hold their lookalikes too, and styled letters stay as typed.
    expect(
      (await new UserService(db().fork()).register({ username: 'Styled', displayName: '𝓐𝓵𝓲𝓬𝓮 ＃1' })).displayName,
    ).toBe('𝓐𝓵𝓲𝓬𝓮 ＃1');
  });

  it('stores the NFKC form, so fullwidth and plain spellings of a name share one set of discriminators', async () => {
    const first = await new UserService(db().fork()).register({ username: '\uff37\uff49\uff44\uff45' }); // "Ｗｉｄｅ"
    expect(first.username).toBe('Wide');
    const [row] = await db().sql<{ username: string }>(`select username from "User" where id = $1`, [first.id]);
    expect(row.username).toBe('Wide');
    const found = await db().fork().getRepository(User).findByTag(`\uff57\uff49\uff44\uff45#${first.discriminator}`);
    expect(found?.id).toBe(first.id);
    // No-break and ideographic spaces are spaces.
    expect((await new UserService(db().fork()).register({ username: 'Wide\u00a0Open' })).username).toBe('Wide Open');
  });

  it('30 concurrent registrations of "broad" in plain, fullwidth and mathematical letters end in 30 distinct discriminators of one name', async () => {
    const spellings = [
      'broad',
      '\uff42\uff52\uff4f\uff41\uff44',
      'BROAD',
      '\uff22\uff32\uff2f\uff21\uff24',
      '𝐛𝐫𝐨𝐚𝐝',
      '𝔹ℝ𝕆𝔸𝔻',
    ];
    const results = await race(db(), 30, (em, i) =>
      new UserService(em).register({ username: spellings[i % spellings.length] }),
    );
    expect(rejected(results)).toEqual([]);
    const ids = fulfilled(results).map((u) => u.id);
    const rows = await db().sql<{ names: string[]; n: string; d: string }>(
      `select array_agg(distinct lower(username)) as names, count(*) as n, count(distinct discriminator) as d
        from "User" where id = any($1::bigint[])`,
      [ids],
    );
    expect(rows[0]).toEqual({ names: ['broad'], n: '30', d: '30' });
  });
});
