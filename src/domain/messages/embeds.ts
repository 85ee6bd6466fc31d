/** Rich embeds, within Discord's limits (docs/architecture.md §10). */
import { LimitReached, ValidationFailed } from '../errors';
import { LIMITS } from '../limits';
import { hasLoneSurrogate, isRecord, own, rejectUnknownKeys, textLength, validateHttpUrl } from './shared';

/** Discord's embed limits. Lengths in UTF-16 code units, as for message content. */
export const EMBED_LIMITS = Object.freeze({
  perMessage: LIMITS.embedsPerMessage,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
  /** Title, description, field names and values, footer text and author name of all embeds together. */
  totalCharacters: 6000,
  maxColor: 0xffffff,
});

export interface EmbedField {
  name: string;
  value: string;
  inline: boolean;
}

export interface EmbedFooter {
  text: string;
  iconUrl?: string;
}

export interface EmbedAuthor {
  name: string;
  url?: string;
  iconUrl?: string;
}

export interface EmbedMedia {
  url: string;
}

export interface Embed {
  title?: string;
  description?: string;
  url?: string;
  /** 0..0xFFFFFF. */
  color?: number;
  /** ISO-8601, stored canonical (`Date#toISOString`, UTC, milliseconds). */
  timestamp?: string;
  footer?: EmbedFooter;
  author?: EmbedAuthor;
  image?: EmbedMedia;
  thumbnail?: EmbedMedia;
  fields: EmbedField[];
}

const EMBED_KEYS = [
  'title',
  'description',
  'url',
  'color',
  'timestamp',
  'footer',
  'author',
  'image',
  'thumbnail',
  'fields',
] as const;

function text(field: string, value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined || value === null) {
    if (required) throw new ValidationFailed(field, 'is required');
    return undefined;
  }
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  if (value.includes('\u0000') || hasLoneSurrogate(value))
    throw new ValidationFailed(field, 'must not contain NUL or lone surrogates');
  const length = textLength(value);
  if (required && value.trim().length === 0) throw new ValidationFailed(field, 'must not be empty');
  if (length > max) throw new ValidationFailed(field, `must be at most ${max} characters`, { max, length });
  return value;
}

function optionalUrl(field: string, value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : validateHttpUrl(field, value);
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-](\d{2}):(\d{2}))$/;

/**
 * An ISO-8601 date-time with an explicit offset (`Z` or `±hh:mm`), a real calendar date and time
 * (no February 30th, no hour 24, no leap second), returned canonical via `toISOString`.
 */
export function parseIsoTimestamp(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be an ISO-8601 string');
  const m = ISO_8601.exec(value);
  if (!m) throw new ValidationFailed(field, 'must be an ISO-8601 date-time with an offset, e.g. 2024-05-01T12:00:00Z');
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth =
    month >= 1 && month <= 12
      ? new Date(Date.UTC(2000, month, 0)).getUTCDate() + (month === 2 && !isLeap(year) ? -1 : 0)
      : 0;
  const offsetOk = m[8] === 'Z' || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || !offsetOk) {
    throw new ValidationFailed(field, 'is not a real date and time');
  }
  // V8 parses at most millisecond precision reliably: cut the fraction to 3 digits first.
  const ms = Date.parse(m[7] && m[7].length > 3 ? value.replace(`.${m[7]}`, `.${m[7].slice(0, 3)}`) : value);
  if (Number.isNaN(ms)) throw new ValidationFailed(field, 'is out of range');
  return new Date(ms).toISOString();
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function media(field: string, value: unknown): EmbedMedia | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new ValidationFailed(field, 'must be an object with a url');
  rejectUnknownKeys(field, value, ['url']);
  return { url: validateHttpUrl(`${field}.url`, own(value, 'url')) };
}

function validateEmbed(at: string, raw: unknown): { embed: Embed; characters: number } {
  if (!isRecord(raw)) throw new ValidationFailed(at, 'must be an object');
  rejectUnknownKeys(at, raw, EMBED_KEYS);
  const embed: Embed = { fields: [] };
  let characters = 0;

  const title = text(`${at}.title`, own(raw, 'title'), EMBED_LIMITS.title, false);
  if (title !== undefined) {
    embed.title = title;
    characters += textLength(title);
  }
  const description = text(`${at}.description`, own(raw, 'description'), EMBED_LIMITS.description, false);
  if (description !== undefined) {
    embed.description = description;
    characters += textLength(description);
  }
  const url = optionalUrl(`${at}.url`, own(raw, 'url'));
  if (url !== undefined) embed.url = url;

  const color = own(raw, 'color');
  if (color !== undefined && color !== null) {
    if (typeof color !== 'number' || !Number.isInteger(color) || color < 0 || color > EMBED_LIMITS.maxColor) {
      throw new ValidationFailed(`${at}.color`, 'must be an integer 0..0xFFFFFF', { max: EMBED_LIMITS.maxColor });
    }
    embed.color = color;
  }
  const timestamp = own(raw, 'timestamp');
  if (timestamp !== undefined && timestamp !== null) embed.timestamp = parseIsoTimestamp(`${at}.timestamp`, timestamp);

  const footer = own(raw, 'footer');
  if (footer !== undefined && footer !== null) {
    if (!isRecord(footer)) throw new ValidationFailed(`${at}.footer`, 'must be an object');
    rejectUnknownKeys(`${at}.footer`, footer, ['text', 'iconUrl']);
    const footerText = text(`${at}.footer.text`, own(footer, 'text'), EMBED_LIMITS.footerText, true)!;
    characters += textLength(footerText);
    embed.footer = { text: footerText };
    const iconUrl = optionalUrl(`${at}.footer.iconUrl`, own(footer, 'iconUrl'));
    if (iconUrl !== undefined) embed.footer.iconUrl = iconUrl;
  }

  const author = own(raw, 'author');
  if (author !== undefined && author !== null) {
    if (!isRecord(author)) throw new ValidationFailed(`${at}.author`, 'must be an object');
    rejectUnknownKeys(`${at}.author`, author, ['name', 'url', 'iconUrl']);
    const name = text(`${at}.author.name`, own(author, 'name'), EMBED_LIMITS.authorName, true)!;
    characters += textLength(name);
    embed.author = { name };
    const authorUrl = optionalUrl(`${at}.author.url`, own(author, 'url'));
    if (authorUrl !== undefined) embed.author.url = authorUrl;
    const iconUrl = optionalUrl(`${at}.author.iconUrl`, own(author, 'iconUrl'));
    if (iconUrl !== undefined) embed.author.iconUrl = iconUrl;
  }

  const image = media(`${at}.image`, own(raw, 'image'));
  if (image) embed.image = image;
  const thumbnail = media(`${at}.thumbnail`, own(raw, 'thumbnail'));
  if (thumbnail) embed.thumbnail = thumbnail;

  const fields = own(raw, 'fields');
  if (fields !== undefined && fields !== null) {
    if (!Array.isArray(fields)) throw new ValidationFailed(`${at}.fields`, 'must be an array');
    if (fields.length > EMBED_LIMITS.fields) throw new LimitReached('embedFields', EMBED_LIMITS.fields);
    for (let i = 0; i < fields.length; i++) {
      const f: unknown = fields[i];
      const fat = `${at}.fields[${i}]`;
      if (!isRecord(f)) throw new ValidationFailed(fat, 'must be an object');
      rejectUnknownKeys(fat, f, ['name', 'value', 'inline']);
      const name = text(`${fat}.name`, own(f, 'name'), EMBED_LIMITS.fieldName, true)!;
      const value = text(`${fat}.value`, own(f, 'value'), EMBED_LIMITS.fieldValue, true)!;
      const inline = own(f, 'inline');
      if (inline !== undefined && inline !== null && typeof inline !== 'boolean') {
        throw new ValidationFailed(`${fat}.inline`, 'must be a boolean');
      }
      characters += textLength(name) + textLength(value);
      embed.fields.push({ name, value, inline: inline === true });
    }
  }

  const visible =
    embed.title !== undefined ||
    embed.description !== undefined ||
    embed.fields.length > 0 ||
    embed.footer !== undefined ||
    embed.author !== undefined ||
    embed.image !== undefined ||
    embed.thumbnail !== undefined;
  if (!visible)
    throw new ValidationFailed(at, 'must have a title, description, field, footer, author, image or thumbnail');
  return { embed, characters };
}

/**
 * Validates the embeds of one message (`undefined`/`null` mean none). At most 10 embeds (LimitReached),
 * each within its per-field limits (ValidationFailed) and all of them together within 6000 characters
 * of title, description, field names and values, footer text and author name (LimitReached
 * `embedTotalCharacters`). Unknown properties are refused. Returns normalised copies (absent optional
 * values omitted, `inline` defaulting to false, timestamps canonical).
 */
export function validateEmbeds(embeds: unknown): Embed[] {
  if (embeds === undefined || embeds === null) return [];
  if (!Array.isArray(embeds)) throw new ValidationFailed('embeds', 'must be an array');
  if (embeds.length > EMBED_LIMITS.perMessage) throw new LimitReached('embedsPerMessage', EMBED_LIMITS.perMessage);
  const out: Embed[] = [];
  let total = 0;
  for (let i = 0; i < embeds.length; i++) {
    const { embed, characters } = validateEmbed(`embeds[${i}]`, embeds[i]);
    total += characters;
    out.push(embed);
  }
  if (total > EMBED_LIMITS.totalCharacters)
    throw new LimitReached('embedTotalCharacters', EMBED_LIMITS.totalCharacters);
  return out;
}
