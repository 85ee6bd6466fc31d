/** Pure rules of messages (no ORM): content, mentions, embeds, attachments, reactions, slowmode. */
export * from './content';
export * from './mentions';
export * from './embeds';
export * from './attachments';
export * from './reactions';
export * from './slowmode';
export { textLength } from './shared';
export * from './custom-emoji';
