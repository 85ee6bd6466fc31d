import { Migration } from '@mikro-orm/migrations';
import { ANALYTICS_LAYER_DOWN, ANALYTICS_LAYER_UP } from './layers/analytics-layer';

/**
 * Hand-written, layered after the generated analytics tables: TimescaleDB hypertables, compression,
 * retention and continuous aggregates where the extension can be used, plain views and a retention
 * function elsewhere (the database decides at run time; see layer-sql.ts). Every step is
 * idempotent, and `npm run db:timescale` runs the same SQL on an already migrated database.
 * Views and functions are outside MikroORM's entity diff, so migration:check stays clean.
 */
export class Migration20261126064700_Timescale extends Migration {
  override async up(): Promise<void> {
    for (const sql of ANALYTICS_LAYER_UP) this.addSql(sql);
  }

  override async down(): Promise<void> {
    for (const sql of ANALYTICS_LAYER_DOWN) this.addSql(sql);
  }
}
