/** The storage API the planner uses: image files, filesystems, swap, qcow2, devices, free space. */
export { prepareDevice, type PreparedDevice } from './block-device.js';
export {
  choosePopulateStrategy,
  describeMakeFilesystem,
  makeFilesystem,
  populateFilesystem,
  rootFilesystemOptions,
  type FilesystemResult,
  type MakeFilesystemOptions,
  type PopulateStrategy,
} from './filesystem.js';
export { checkFreeSpace, readFreeSpace } from './free-space.js';
export { checkFsParameters, isUuid } from './fs-options.js';
export {
  createImageFile,
  describeCreateImageFile,
  discardImageFile,
  finishImageFile,
  imageUndoDescription,
  type CreateImageFileOptions,
  type ImageFile,
} from './image-file.js';
export { describePopulateViaMount, populateViaMount } from './populate.js';
export { convertToQcow2, describeConvertToQcow2, type ConvertToQcow2Options } from './qcow2.js';
export { describeMakeSwap, makeSwap, type MakeSwapOptions } from './swap.js';
export { scanTree, type TreeFacts } from './tree-scan.js';
