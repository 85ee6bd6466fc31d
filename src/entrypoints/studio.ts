/** @cryb/database/studio: the browser studio over a running ORM. */
export { startStudio, type Studio, type StudioOptions } from '../studio';
