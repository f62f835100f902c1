/** The image commands of `xenkit`: clone, delete-image, list-images, update-image. */
import type { Command } from 'commander';
import { addCloneCommand } from './clone.js';
import { addDeleteImageCommand } from './delete-image.js';
import type { ImageCommandDeps } from './deps.js';
import { addListImagesCommand } from './list-images.js';
import { addUpdateImageCommand } from './update-image.js';

export type { ImageCommandDeps } from './deps.js';

/** Adds clone, delete-image, list-images and update-image to `program` (configure it first). */
export function addImageCommands(program: Command, deps: ImageCommandDeps): void {
  addCloneCommand(program, deps);
  addDeleteImageCommand(program, deps);
  addListImagesCommand(program, deps);
  addUpdateImageCommand(program, deps);
}
