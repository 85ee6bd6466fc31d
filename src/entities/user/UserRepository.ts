import { EntityRepository } from '@mikro-orm/postgresql';
import { NotFound } from '../../domain/errors';
import { parseTag } from '../../domain/identity/username';
import { isSnowflake } from '../../domain/snowflake';
import { User } from './User';

/** Lookups of users. Registration, renames and presence are use cases: see UserService (src/identity). */
export class UserRepository extends EntityRepository<User> {
  /**
   * Finds "name#0001". The name matches as the unique index does, by the database's lower(), so a
   * lookup never disagrees with what registration and renames consider taken.
   */
  async findByTag(tag: string): Promise<User | null> {
    const { username, discriminator } = parseTag(tag);
    const rows: { id: string }[] = await this.em.execute(
      'select "id"::text as "id" from "User" where lower("username") = lower(?) and "discriminator" = ?',
      [username, discriminator],
    );
    return rows.length ? this.em.findOne(User, { id: rows[0].id }) : null;
  }

  async findByTagOrFail(tag: string): Promise<User> {
    const user = await this.findByTag(tag);
    if (!user) throw new NotFound('User', tag);
    return user;
  }

  async findOneOrNotFound(id: string): Promise<User> {
    if (!isSnowflake(id)) throw new NotFound('User', String(id));
    const user = await this.em.findOne(User, { id });
    if (!user) throw new NotFound('User', id);
    return user;
  }
}
