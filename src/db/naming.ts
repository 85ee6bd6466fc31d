import { EntityCaseNamingStrategy } from '@mikro-orm/core';

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
const upperFirst = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/**
 * Prisma-style names, so the platform's documented SQL runs verbatim: tables are class names
 * ("User"), columns are property names ("displayName"), and foreign keys are the relation name
 * plus `Id` ("userId"), which EntityCaseNamingStrategy alone does not add.
 */
export class CrybNamingStrategy extends EntityCaseNamingStrategy {
  override joinColumnName(propertyName: string): string {
    return `${propertyName}Id`;
  }

  override joinKeyColumnName(entityName: string, referencedColumnName?: string, composite = false): string {
    if (composite && referencedColumnName) {
      return lowerFirst(entityName) + upperFirst(referencedColumnName);
    }
    return `${lowerFirst(entityName)}Id`;
  }

  override joinTableName(sourceEntity: string, targetEntity: string, propertyName?: string): string {
    return `${sourceEntity}${upperFirst(propertyName ?? lowerFirst(targetEntity))}`;
  }
}
