/** Discord's permission model, pure (no ORM): flags, the algorithm, implicit rules, hierarchy. */
export * from './flags';
export * from './compute';
export * from './hierarchy';
export * from './timeout';
