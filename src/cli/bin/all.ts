/** Every command's entry point in one module: what the bundle that bin/ loads is built from. */
export { main as xenCreateImage } from './xen-create-image.js';
export { main as xenDeleteImage } from './xen-delete-image.js';
export { main as xenListImages } from './xen-list-images.js';
export { main as xenResizeGuest } from './xen-resize-guest.js';
export { main as xenUpdateImage } from './xen-update-image.js';
export { main as xenkit } from './xenkit.js';
export { main as xm } from './xm.js';
