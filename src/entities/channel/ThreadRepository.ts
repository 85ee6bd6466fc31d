import { EntityRepository } from '@mikro-orm/postgresql';
import type { ThreadMember } from './ThreadMember';

export class ThreadRepository extends EntityRepository<ThreadMember> {}
