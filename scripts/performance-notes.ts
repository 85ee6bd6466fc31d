/**
 * What each benchmark measures, for docs/performance.md (scripts/performance-doc.ts). Prose only: a
 * measured number never goes here, it comes from bench/results/latest.json.
 */
export const BENCH_NOTES: Record<string, string> = {
  'seed-large': `
\`npm run bench:seed\` (bench/seed-large.ts): \`LargeSeeder\`'s whole run (generation, COPY in chunks of
100,000 messages, index rebuild, derived state in SQL, analytics history, the invariant check,
ANALYZE) against COPY of the very same rows (exported with COPY TO into files first) into a second
freshly migrated database with all its indexes, in the same run. Bulk mode (secondary indexes rebuilt
once, autovacuum off during the load) is what keeps the seed near COPY. The JSON has the time of every
phase and the rows per table.

The documented queries are the two of
[architecture.md §4](architecture.md#4-database-naming-the-documented-sql-runs-verbatim), verbatim,
for the largest server of the large world, through raw \`pg\` (bind parameter) and through the ORM's
\`execute\` (value inlined); the JSON carries both EXPLAIN (ANALYZE, BUFFERS) plans. Where the raw
variant is slower, it is because \`pg\` parses every row's timestamps into Date objects, which the
package's driver configuration does not.`,
  'uow-flush': `
\`npm run bench:uow\` (bench/uow-flush.ts): \`new Message(...)\`, persist, one flush of 10,000 new
messages, against a raw multi-row INSERT (1,000 rows per statement, bind parameters) of the same rows,
chunked \`em.insertMany\` and COPY, in interleaved rounds (median). Where the unit of work's time goes,
from a CPU profile: V8's garbage collector, MikroORM's per-entity property propagation, change-set and
identity-map bookkeeping, and SQL text with inlined values, all per entity inside MikroORM. Bulk writes
therefore belong on \`insertMany\` or COPY, as the seeders do.`,
  'uow-flush:semi-space-64': `
The same bench with a larger V8 young generation (\`NODE_OPTIONS=--max-semi-space-size=64\`), which
shortens garbage collection during the flush.`,
  'send-message': `
\`npm run bench:send\` (bench/send-message.ts): \`MessageService.send\` end to end (the permission
check in the channel, content rules, the insert, lastMessageId, MESSAGE_CREATE in the outbox, the
MessageAnalytics row, one transaction) against a hand-written raw-SQL send doing the same work (one
query for the access facts, Discord's algorithm with the domain's pure functions, one statement with
CTEs for the writes), both refusing a muted member the same way; half the traffic goes to one busy
channel. The diagnosis row runs the raw send with its writes in the ORM's order, to separate the cost
of lock order from the cost of the statements.

How the send reaches it: four statements, as the hand-written send has. \`begin\`; one read of every
access fact (\`loadChannelAccess\`, rows built by \`json_build_object\` over the mapped columns); one
write statement whose CTEs insert the message (from the unit of work's own snapshot,
\`newEntityInsert\`), raise mention counts, write MESSAGE_CREATE to the outbox and the analytics row, and
whose last part moves the channel's lastMessageId; \`commit\`. Each statement saved mattered more than
any CPU spent per entity: on this machine a statement costs the Node process a blocking socket write
plus MikroORM's and knex's per-query work. What remains between the two is that per-query work, the
transaction's own bookkeeping in MikroORM (a fork, the closing flush over the identity map) and merging
the channel, its overwrites, the server and the membership into the unit of work.`,
  'messages-read': `
\`npm run bench:messages\` (bench/messages-read.ts) builds a million messages in SQL (4 servers, 200
text channels, 5 per server hidden from the reader, Zipf-like channel and word frequencies, 5% with
reactions), then measures a 50-message history page (20% newest, 80% before a random point, random
readable channels) and a top-25 search (12 texts: rare and common words, pairs, a phrase, \`or\`, an
exclusion; a third scoped to one server) against the same functions on a raw \`pg\` runner with bind
parameters: the same statements, only the SQL layer differs.`,
  'voice-joins': `
\`npm run bench:voice\` (bench/voice-joins.ts): 16 clients contend for 4 voice channels with a user
limit of 8; each joins a random channel and leaves, in interleaved rounds per variant. The baseline is
the same lock, count and insert SQL through raw \`pg\` in the same order, in the same run (that
baseline keeps the older statement shape, so it sends more statements than the join now does). A join
takes the user's voice lock, reads the state, reads the channel, its overwrites and the membership in
one statement (\`loadChannelAccess\` with \`voiceOnly\`), locks the channel row (reading the ban and the
limit), counts under the lock when the channel has a limit, and writes the state, the session and the
event in one statement. A leave closes the session, records its analytics row, deletes the state and
writes its event in one statement.`,
  'events-overhead': `
\`npm run bench:events\` (bench/events-overhead.ts): the cost of the transactional outbox. Two units of
work, each with and without the event recorder (the same code on an ORM without the recorder), in
paired interleaved rounds: a message-like one (load a channel, insert one content row recording one
event, set lastMessageId, flush) and a profile update (the lightest write, the worst case for a fixed
per-flush cost). The cost is one more multi-row INSERT per flush.`,
  'analytics-overhead': `
\`npm run bench:analytics\` (bench/analytics-overhead.ts): \`MessageService.send\` with and without
its MessageAnalytics row, in paired interleaved rounds: the same code and the same statement, for two
sets of users, where a BEFORE INSERT trigger that exists only on the bench's scratch database drops the
control users' analytics rows. The JSON checks that the analytics variant wrote one row per message
and the other none.`,
};
