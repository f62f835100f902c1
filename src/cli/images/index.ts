/** The image commands of `xenkit`: audit, clone, delete-image, list-images, reset-identity, resize-image, update-image. */
import type { Command } from 'commander';
import { addAuditCommand } from './audit.js';
import { addCloneCommand } from './clone.js';
import { addDeleteImageCommand } from './delete-image.js';
import type { ImageCommandDeps } from './deps.js';
import { addListImagesCommand } from './list-images.js';
import { addResetIdentityCommand } from './reset-identity.js';
import { addResizeImageCommand } from './resize-image.js';
import { addUpdateImageCommand } from './update-image.js';

export type { ImageCommandDeps } from './deps.js';

/** Adds the image commands to `program` (configure it first). */
export function addImageCommands(program: Command, deps: ImageCommandDeps): void {
  addAuditCommand(program, deps);
  addCloneCommand(program, deps);
  addDeleteImageCommand(program, deps);
  addListImagesCommand(program, deps);
  addResetIdentityCommand(program, deps);
  addResizeImageCommand(program, deps);
  addUpdateImageCommand(program, deps);
}
