/** The image commands of `xenkit`: clone, delete-image, list-images, resize-image, update-image. */
import type { Command } from 'commander';
import { addCloneCommand } from './clone.js';
import { DELETE_IMAGE } from './delete-image.js';
import type { ImageCommandDeps } from './deps.js';
import { addImageCommand } from './image-command.js';
import { LIST_IMAGES } from './list-images.js';
import { RESIZE_IMAGE } from './resize-image.js';
import { UPDATE_IMAGE } from './update-image.js';

export type { ImageCommandDeps } from './deps.js';

/** The image commands that also answer to a xen-tools name, each from its one option table. */
export const IMAGE_COMMANDS = [DELETE_IMAGE, LIST_IMAGES, RESIZE_IMAGE, UPDATE_IMAGE] as const;

/** Adds clone, delete-image, list-images, resize-image and update-image to `program` (configure it first). */
export function addImageCommands(program: Command, deps: ImageCommandDeps): void {
  addCloneCommand(program, deps);
  for (const command of IMAGE_COMMANDS) addImageCommand(program, command, deps);
}
