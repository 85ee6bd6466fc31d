/**
 * Discord's timeout as one rule: a timed-out member may read (VIEW_CHANNEL, READ_MESSAGE_HISTORY) and
 * nothing else, in every channel of the server, until the timeout ends. The owner and members with
 * ADMINISTRATOR are exempt. Every operation that writes on a member's behalf goes through one of the
 * two checks below: `assertPermittedUnlessTimedOut` for what a permission gates (the computed
 * permissions already lack those bits), `assertNotTimedOut` for what no permission gates (adding to an
 * existing reaction, joining a thread, editing one's message, un-muting oneself).
 */
import { MemberTimedOut } from '../errors';
import { assertPermissions, isTimedOut, TIMEOUT_PERMISSIONS } from './compute';
import { PermissionFlags, permissionBits, permissionNames, type PermissionName } from './flags';

/**
 * The end of the member's running timeout, or null: no timeout, one that has ended, or an exempt
 * member (`exempt`: the owner, or ADMINISTRATOR in the member's server permissions).
 */
export function activeTimeout(until: Date | null | undefined, exempt: boolean, now: Date = new Date()): Date | null {
  return !exempt && isTimedOut(until, now) ? until! : null;
}

const bitsOf = (required: bigint | PermissionName | readonly PermissionName[]): bigint =>
  typeof required === 'bigint'
    ? required
    : typeof required === 'string'
      ? permissionBits(required)
      : permissionBits(...required);

/**
 * Refuses with MemberTimedOut while `timeout` runs (see `activeTimeout`). `action`: the permission(s)
 * the refused action stands for, named in the error.
 */
export function assertNotTimedOut(
  timeout: Date | null,
  action: PermissionName | readonly PermissionName[],
  details: Record<string, unknown> = {},
): void {
  if (timeout) throw new MemberTimedOut(timeout, permissionNames(bitsOf(action)), details);
}

/**
 * `assertPermissions`, except that a refusal the running timeout explains (a missing bit other than
 * the two a timeout leaves) is MemberTimedOut, which is a MissingPermission naming the same bits.
 */
export function assertPermittedUnlessTimedOut(
  permissions: bigint,
  required: bigint | PermissionName | readonly PermissionName[],
  timeout: Date | null,
  details: Record<string, unknown> = {},
): void {
  const missing = bitsOf(required) & ~permissions;
  if (missing === 0n) return;
  if (timeout && (missing & ~TIMEOUT_PERMISSIONS) !== 0n)
    throw new MemberTimedOut(timeout, permissionNames(missing), details);
  assertPermissions(permissions, required, details);
}

/** Whether effective server-level permissions make their holder exempt from timeouts (owner, administrator). */
export const exemptFromTimeout = (serverPermissions: bigint): boolean =>
  (serverPermissions & PermissionFlags.ADMINISTRATOR) !== 0n;
