import { EntityRepository, type EntityManager } from '@mikro-orm/postgresql';
import { ValidationFailed } from '../../domain/errors';
import { snowflakeArg } from '../../domain/identity/ids';
import { validateIntegerIn } from '../../domain/servers';
import { AuditLogAction, AuditLogEntry } from './AuditLogEntry';

export interface AuditLogQuery {
  /** Only entries by this user. */
  actorId?: string;
  /** Only entries of this action (Discord's number). */
  actionType?: AuditLogAction;
  /** Only entries older than this entry id (keyset paging: pass the last id of the previous page). */
  before?: string;
  /** 1-100, default 50. */
  limit?: number;
}

export const AUDIT_LOG_PAGE = { default: 50, min: 1, max: 100 } as const;

// Computed on first use: this module and AuditLogEntry.ts import each other.
let actions: Set<number> | undefined;
const isAuditLogAction = (value: unknown): value is AuditLogAction =>
  (actions ??= new Set(Object.values(AuditLogAction).filter((v): v is number => typeof v === 'number'))).has(
    value as number,
  );

/** An AuditLogQuery after validation, with the page size filled in. */
export interface ValidAuditLogQuery {
  actorId?: string;
  actionType?: AuditLogAction;
  before?: string;
  limit: number;
}

/** Refuses a malformed query before any read; AuditLogService.auditLog calls it first. */
export function validateAuditLogQuery(query: unknown): ValidAuditLogQuery {
  if (query === undefined) return { limit: AUDIT_LOG_PAGE.default };
  if (typeof query !== 'object' || query === null || Array.isArray(query))
    throw new ValidationFailed('query', 'must be an object');
  const q = query as AuditLogQuery;
  const out: ValidAuditLogQuery = { limit: AUDIT_LOG_PAGE.default };
  if (q.actorId !== undefined) out.actorId = snowflakeArg(q.actorId, 'actorId');
  if (q.actionType !== undefined) {
    if (!isAuditLogAction(q.actionType)) throw new ValidationFailed('actionType', 'must be an audit log action number');
    out.actionType = q.actionType;
  }
  if (q.before !== undefined) out.before = snowflakeArg(q.before, 'before');
  if (q.limit !== undefined) out.limit = validateIntegerIn('limit', q.limit, AUDIT_LOG_PAGE.min, AUDIT_LOG_PAGE.max);
  return out;
}

/**
 * Queries over a server's audit log: newest first, keyset-paged on the ("serverId", "id") index. The
 * permission-checked read (VIEW_AUDIT_LOG) is AuditLogService.auditLog.
 */
export class AuditLogRepository extends EntityRepository<AuditLogEntry> {
  /**
   * One page of the server's audit log, newest first by id, filtered by actor, action type and/or
   * `before` (an entry id). No permission check: AuditLogService.auditLog checks VIEW_AUDIT_LOG first.
   */
  async entriesOf(serverId: string, query: AuditLogQuery | ValidAuditLogQuery = {}): Promise<AuditLogEntry[]> {
    return this.pageQuery(this.em, snowflakeArg(serverId, 'serverId'), validateAuditLogQuery(query)).getResultList();
  }

  /**
   * The SQL `auditLog` runs for these filters, with its parameters inlined (no permission check,
   * nothing is read): for EXPLAIN and query review.
   */
  auditLogSql(serverId: string, query: AuditLogQuery = {}): string {
    return this.pageQuery(
      this.em,
      snowflakeArg(serverId, 'serverId'),
      validateAuditLogQuery(query),
    ).getFormattedQuery();
  }

  private pageQuery(em: EntityManager, serverId: string, q: ValidAuditLogQuery) {
    const where: Record<string, unknown> = { server: serverId };
    if (q.actorId !== undefined) where.actor = q.actorId;
    if (q.actionType !== undefined) where.actionType = q.actionType;
    if (q.before !== undefined) where.id = { $lt: q.before };
    return em.createQueryBuilder(AuditLogEntry, 'e').select('*').where(where).orderBy({ id: 'desc' }).limit(q.limit);
  }
}
