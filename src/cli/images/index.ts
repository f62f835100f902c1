/** The image commands of `xenkit`: clone, delete-image, list-images, resize-image, update-image. */
import type { Command } from 'commander';
import { addCloneCommand } from './clone.js';
import { addDeleteImageCommand } from './delete-image.js';
import type { ImageCommandDeps } from './deps.js';
import { addListImagesCommand } from './list-images.js';
import { addResizeImageCommand } from './resize-image.js';
import { addUpdateImageCommand } from './update-image.js';

export type { ImageCommandDeps } from './deps.js';

/** Adds clone, delete-image, list-images, resize-image and update-image to `program` (configure it first). */
export function addImageCommands(program: Command, deps: ImageCommandDeps): void {
  addCloneCommand(program, deps);
  addDeleteImageCommand(program, deps);
  addListImagesCommand(program, deps);
  addResizeImageCommand(program, deps);
  addUpdateImageCommand(program, deps);
}
