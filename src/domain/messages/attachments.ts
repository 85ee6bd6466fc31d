/** Message attachments (the metadata; the bytes live in object storage). */
import { LimitReached, ValidationFailed } from '../errors';
import { LIMITS } from '../limits';
import { hasLoneSurrogate, isRecord, own, rejectUnknownKeys, textLength, validateHttpUrl } from './shared';

export const DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024;
export const MAX_FILENAME_LENGTH = 255;

export interface AttachmentInput {
  filename: string;
  /** Bytes, 0..maxSizeBytes. */
  size: number;
  /** A MIME type, e.g. `image/png` or `text/plain; charset=utf-8`. */
  contentType: string;
  url: string;
  /** Pixels, for images and video; both null otherwise. */
  width: number | null;
  height: number | null;
}

export interface AttachmentOptions {
  /** The largest file accepted, in bytes (default 25 MiB; premium tiers may pass more). */
  maxSizeBytes?: number;
}

const TOKEN = '[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}';
const MIME = new RegExp(
  `^${TOKEN}/${TOKEN}(?:\\s*;\\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"\\\\\\u0000-\\u001f\\u007f]*"))*$`,
);

const ATTACHMENT_KEYS = ['filename', 'size', 'contentType', 'url', 'width', 'height'] as const;

function filename(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationFailed(field, 'must be a string');
  const length = textLength(value);
  if (length < 1 || length > MAX_FILENAME_LENGTH) {
    throw new ValidationFailed(field, `must be 1-${MAX_FILENAME_LENGTH} characters`, {
      min: 1,
      max: MAX_FILENAME_LENGTH,
      length,
    });
  }
  if (/[/\\]/.test(value)) throw new ValidationFailed(field, 'must not contain path separators');
  // eslint-disable-next-line no-control-regex -- control characters are what this pattern finds
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value) || hasLoneSurrogate(value)) {
    throw new ValidationFailed(field, 'must not contain control characters');
  }
  if (value === '.' || value === '..') throw new ValidationFailed(field, 'must be a file name');
  return value;
}

function dimension(field: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationFailed(field, 'must be a positive integer or null');
  }
  return value;
}

/**
 * Validates the attachments of one message (`undefined`/`null` mean none): at most 10 (LimitReached
 * `attachmentsPerMessage`); each with a filename of 1-255 UTF-16 units without `/`, `\` or control
 * characters (and not `.`/`..`); an integer size of 0..maxSizeBytes (over it: LimitReached
 * `attachmentSize`); a MIME content type; an http(s) url; and width and height both positive integers
 * or both null. Unknown properties are refused.
 */
export function validateAttachments(list: unknown, options: AttachmentOptions = {}): AttachmentInput[] {
  const maxSize = options.maxSizeBytes ?? DEFAULT_MAX_ATTACHMENT_BYTES;
  if (!Number.isSafeInteger(maxSize) || maxSize < 0)
    throw new ValidationFailed('maxSizeBytes', 'must be a non-negative integer');
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ValidationFailed('attachments', 'must be an array');
  if (list.length > LIMITS.attachmentsPerMessage)
    throw new LimitReached('attachmentsPerMessage', LIMITS.attachmentsPerMessage);
  const out: AttachmentInput[] = [];
  for (let i = 0; i < list.length; i++) {
    const at = `attachments[${i}]`;
    const raw: unknown = list[i];
    if (!isRecord(raw)) throw new ValidationFailed(at, 'must be an object');
    rejectUnknownKeys(at, raw, ATTACHMENT_KEYS);
    const name = filename(`${at}.filename`, own(raw, 'filename'));
    const size = own(raw, 'size');
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new ValidationFailed(`${at}.size`, 'must be a non-negative integer of bytes');
    }
    if (size > maxSize) throw new LimitReached('attachmentSize', maxSize);
    const contentType = own(raw, 'contentType');
    if (typeof contentType !== 'string' || contentType.length > 255 || !MIME.test(contentType)) {
      throw new ValidationFailed(`${at}.contentType`, 'must be a MIME type such as image/png');
    }
    const url = validateHttpUrl(`${at}.url`, own(raw, 'url'));
    const width = dimension(`${at}.width`, own(raw, 'width'));
    const height = dimension(`${at}.height`, own(raw, 'height'));
    if ((width === null) !== (height === null))
      throw new ValidationFailed(`${at}.width`, 'width and height go together: both set or both null');
    out.push({ filename: name, size, contentType, url, width, height });
  }
  return out;
}
