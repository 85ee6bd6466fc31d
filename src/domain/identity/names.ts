import confusablePrototypes from 'unhomoglyph/data.json';
import { LIMITS } from '../limits';

/**
 * How names are compared as people see them. Usernames and display names are shown to other people,
 * so what matters is what they look like, not which code points they are:
 * - invisible code points make two names that look the same into different strings;
 * - compatibility forms (fullwidth "ｅ", mathematical "𝐞", ligatures) are the same letters in another style;
 * - letters of other scripts can look the same as Latin ones (Cyrillic "е", Greek "Ε").
 *
 * The data is Unicode's: the Default_Ignorable_Code_Point property (JavaScript's regex knows it),
 * NFKC, and the confusables mapping of UTS #39 (confusables.txt, shipped by the `unhomoglyph` package).
 */

const PROTOTYPES = confusablePrototypes as Readonly<Record<string, string>>;

/**
 * Code points that show nothing, or nothing of their own. Default_Ignorable_Code_Point covers the
 * zero-width and bidi controls, the soft hyphen, the combining grapheme joiner, the Hangul fillers,
 * the Mongolian vowel separator, variation selectors and tag characters; they are listed again so the
 * rule does not depend on the Unicode version of the JavaScript engine. The rest are blank glyphs and
 * format controls the property leaves out: the Braille blank, the musical null notehead, the
 * interlinear annotation controls (they hide the text between them) and the Egyptian hieroglyph
 * format controls. The combining grapheme joiner (\u034f, a combining mark) comes right after the
 * property class: after a character it would read as one combined character (no-misleading-character-class).
 */
const INVISIBLE =
  /[\p{Default_Ignorable_Code_Point}\u034f\u00ad\u115f\u1160\u180e\u3164\uffa0\u{e0000}-\u{e007f}\u2800\u{1d159}\ufff9-\ufffb\u{13430}-\u{1343f}]/u;

/** C0, DEL, C1, and the line and paragraph separators. */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * A standard emoji sequence renders as one visible picture even though it is built with joiners,
 * variation selectors or tag characters ("❤️", "👨‍💻", the flag of Scotland): those inner code points
 * are not hidden text. Built with the `v` flag (properties of strings), which Node 20 supports.
 */
const EMOJI_SEQUENCE = new RegExp('\\p{RGI_Emoji}', 'gv');

/** The first invisible or control code point of `text` outside standard emoji sequences, if any. */
export function findInvisible(text: string): string | undefined {
  const outsideEmoji = text.replace(EMOJI_SEQUENCE, '');
  return outsideEmoji.match(INVISIBLE)?.[0] ?? outsideEmoji.match(CONTROL)?.[0];
}

/**
 * Full case folding, as near as JavaScript gets: upper then lower case folds "ß" with "ss" and "ς"
 * with "σ" as Unicode's case folding does, which lower case alone does not. NFKC around it makes the
 * result NFKC_Casefold-like: "ＨＥＲＥ", "𝐇𝐄𝐑𝐄" and "Here" all fold to "here".
 */
export function foldCase(text: string): string {
  return text.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

/** The UTS #39 skeleton: NFD, each code point replaced by its confusables prototype, NFD again. */
export function confusableSkeleton(text: string): string {
  let mapped = '';
  for (const char of text.normalize('NFD')) mapped += PROTOTYPES[char] ?? char;
  return mapped.normalize('NFD');
}

/**
 * The keys under which a name is compared with the reserved names. A skeleton keeps case ("Н", Cyrillic,
 * maps to "H"; "0" maps to "O"), so the skeleton is taken of the name both before and after folding,
 * and folded again: "НЕRЕ", "еvеrуоnе", "EVERY0NE" and "ｅｖｅｒｙｏｎｅ" all meet the reserved name.
 */
export function lookalikeKeys(name: string): Set<string> {
  const keys = new Set<string>();
  for (const form of new Set([name, name.normalize('NFKC'), foldCase(name)]))
    keys.add(foldCase(confusableSkeleton(form)));
  return keys;
}

const RESERVED_KEYS: ReadonlyMap<string, string> = new Map(
  LIMITS.reservedNames.flatMap((reserved) => [...lookalikeKeys(reserved)].map((key) => [key, reserved] as const)),
);

/** The reserved name (`everyone`, `here`, ...) that `name` looks like, if any. */
export function reservedLookalike(name: string): string | undefined {
  for (const key of lookalikeKeys(name)) {
    const reserved = RESERVED_KEYS.get(key);
    if (reserved) return reserved;
  }
  return undefined;
}

/**
 * Punctuation and symbols that Unicode's confusables data says look like a tag or mention separator
 * ("∶" ratio, "։" Armenian full stop, "꞉" modifier letter colon, ...). Letters and marks that look
 * like a colon (the Devanagari visarga, the Lisu tone letter, the IPA length mark) are kept: refusing
 * them would refuse ordinary words of their scripts. NFKC equivalents ("＃", "﹟", "＠", "：") are
 * caught by checking the NFKC form for the ASCII separators themselves.
 */
const SEPARATOR_LOOKALIKES: ReadonlySet<string> = new Set(
  Object.entries(PROTOTYPES)
    .filter(([char, prototype]) => /[#@:]/.test(prototype) && /^[\p{P}\p{S}]$/u.test(char))
    .map(([char]) => char),
);

/** The tag or mention separator (`@`, `#`, `:`) `name` contains, as itself or a lookalike, if any. */
export function findSeparator(name: string): string | undefined {
  const ascii = name.normalize('NFKC').match(/[@#:]/)?.[0];
  if (ascii) return ascii;
  for (const char of name) if (SEPARATOR_LOOKALIKES.has(char)) return char;
  return undefined;
}

/** Whether `name` contains a Markdown code fence, counting NFKC equivalents of the backtick ("｀"). */
export function containsCodeFence(name: string): boolean {
  return name.normalize('NFKC').includes('```');
}
