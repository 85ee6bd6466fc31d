export { startStudio, type Studio, type StudioOptions } from './server';
export { explainMember, type MemberPermissions } from './explain';
export { studioModel, type StudioModel, type StudioEntity } from './metadata';
