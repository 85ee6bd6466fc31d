/** Message content rules (docs/architecture.md §10: 2000 characters, 4000 with premium). */
import { ValidationFailed } from '../errors';
import { LIMITS } from '../limits';
import { hasLoneSurrogate, textLength } from './shared';

export interface ContentOptions {
  /** The author has premium (NITRO): the limit is 4000 instead of 2000. */
  premium: boolean;
  /** The message carries at least one attachment or embed, so empty content is allowed. */
  hasAttachmentsOrEmbeds: boolean;
}

/**
 * Validates message content and returns it with `\r\n` turned into `\n` (and nothing else changed:
 * no trimming, no Unicode normalisation).
 *
 * - Length is counted in UTF-16 code units, as Discord's API does, after the line-ending normalisation
 *   (so a CRLF counts 1). Limit: `LIMITS.messageContent` (2000), `LIMITS.messageContentPremium` (4000).
 * - Empty content, or content of only whitespace (Discord refuses those as empty), is allowed only with
 *   attachments or embeds. It is returned unchanged.
 * - NUL and ill-formed UTF-16 (lone surrogates) are refused: PostgreSQL text cannot hold them faithfully.
 * - Non-strings are refused (pass `''` for "no content").
 */
export function validateMessageContent(content: unknown, options: ContentOptions): string {
  if (typeof content !== 'string') {
    throw new ValidationFailed('content', 'must be a string', { type: content === null ? 'null' : typeof content });
  }
  const premium = options?.premium === true;
  const hasExtras = options?.hasAttachmentsOrEmbeds === true;
  if (content.includes('\u0000')) throw new ValidationFailed('content', 'must not contain NUL characters');
  if (hasLoneSurrogate(content))
    throw new ValidationFailed('content', 'must be well-formed Unicode (no lone surrogates)');
  const normalised = content.replace(/\r\n/g, '\n');
  const max = premium ? LIMITS.messageContentPremium : LIMITS.messageContent;
  const length = textLength(normalised);
  if (length > max) {
    throw new ValidationFailed('content', `must be at most ${max} characters`, { max, length, premium });
  }
  if (normalised.trim().length === 0 && !hasExtras) {
    throw new ValidationFailed('content', 'must not be empty unless the message has attachments or embeds', { min: 1 });
  }
  return normalised;
}
