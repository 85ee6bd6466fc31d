/**
 * How many SQL statements each hot operation may send, begin and commit included:
 * test/write-path.statements.test.ts counts them (a count is deterministic, so it is a test), and
 * scripts/performance-doc.ts publishes them in docs/performance.md beside STATEMENTS_BEFORE.
 */
export const STATEMENT_BUDGETS = {
  'send (text only, channel without slowmode)': 4,
  'send (1:1 DM)': 6,
  edit: 6,
  'react (new emoji)': 8,
  ack: 5,
  joinVoice: 7,
  leaveVoice: 7,
  sendFriendRequest: 8,
  setPresence: 5,
  kick: 13,
  'acceptInvite (join by invite)': 13,
} as const;

/**
 * What each operation sent before reads became one statement (commit d420d2e), for the record in
 * docs/performance.md.
 */
export const STATEMENTS_BEFORE: Record<keyof typeof STATEMENT_BUDGETS, number> = {
  'send (text only, channel without slowmode)': 13,
  'send (1:1 DM)': 16,
  edit: 12,
  'react (new emoji)': 13,
  ack: 12,
  joinVoice: 15,
  leaveVoice: 11,
  sendFriendRequest: 9,
  setPresence: 5,
  kick: 16,
  'acceptInvite (join by invite)': 13,
};
