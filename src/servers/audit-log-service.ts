import type { EntityManager } from '@mikro-orm/postgresql';
import { idArg, type IdArg } from '../domain/identity/ids';
import { transact } from '../db/unit-of-work';
import { AuditLogEntry } from '../entities/server/AuditLogEntry';
import { type AuditLogQuery, validateAuditLogQuery } from '../entities/server/AuditLogRepository';
import { loadServerAccess } from '../entities/server/ServerAccess';
import type { ServerArg } from './args';

/** Reading a server's audit log, for members allowed to. */
export class AuditLogService {
  constructor(private readonly em: EntityManager) {}

  /**
   * One page of the server's audit log, newest first by id, filtered by actor, action type and/or
   * `before` (an entry id). Requires the actor's VIEW_AUDIT_LOG in the server.
   */
  async auditLog(actor: IdArg, server: ServerArg, query: AuditLogQuery = {}): Promise<AuditLogEntry[]> {
    const actorId = idArg(actor, 'actor');
    const serverId = idArg(server, 'serverId');
    const valid = validateAuditLogQuery(query);
    return transact(this.em, async (tx) => {
      const access = await loadServerAccess(tx, serverId, actorId);
      access.require('VIEW_AUDIT_LOG');
      return tx.getRepository(AuditLogEntry).entriesOf(serverId, valid);
    });
  }
}
