/** The image commands of `xenkit`: audit, clone, delete-image, list-images, reset-identity, resize-image, update-image. */
import type { Command } from 'commander';
import { addAuditCommand } from './audit.js';
import { addCloneCommand } from './clone.js';
import { DELETE_IMAGE } from './delete-image.js';
import type { ImageCommandDeps } from './deps.js';
import { addImageCommand } from './image-command.js';
import { LIST_IMAGES } from './list-images.js';
import { addResetIdentityCommand } from './reset-identity.js';
import { RESIZE_IMAGE } from './resize-image.js';
import { UPDATE_IMAGE } from './update-image.js';

export type { ImageCommandDeps } from './deps.js';

/** The image commands that also answer to a xen-tools name, each from its one option table. */
export const IMAGE_COMMANDS = [DELETE_IMAGE, LIST_IMAGES, RESIZE_IMAGE, UPDATE_IMAGE] as const;

/** Adds the image commands to `program` (configure it first). */
export function addImageCommands(program: Command, deps: ImageCommandDeps): void {
  addAuditCommand(program, deps);
  addCloneCommand(program, deps);
  addImageCommand(program, DELETE_IMAGE, deps);
  addImageCommand(program, LIST_IMAGES, deps);
  addResetIdentityCommand(program, deps);
  addImageCommand(program, RESIZE_IMAGE, deps);
  addImageCommand(program, UPDATE_IMAGE, deps);
}
