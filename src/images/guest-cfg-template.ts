/** A guest's domain config from a xen-tools template file (`--template`), natively or with Perl. */
import { readFile } from 'node:fs/promises';
import { usageError } from '../errors.js';
import { classifyTemplate, fillNativeTemplate } from '../formats/xl-cfg-template.js';
import { buildTemplateVars } from '../formats/xl-cfg-template-vars.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { fillPerlTemplate, type FillTemplateOptions } from '../tools/text-template.js';

/** Renders a guest's domain config from a xen-tools template file, natively or with Perl. */
export async function renderGuestCfgFromTemplate(
  spec: GuestSpec,
  file: string,
  options: FillTemplateOptions = {},
): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw usageError('E_TEMPLATE', `template "${file}" cannot be read`, 'check the --template path', error);
  }
  const vars = buildTemplateVars(spec);
  if (classifyTemplate(text) === 'native') return fillNativeTemplate(text, vars.scalars, file);
  return fillPerlTemplate(file, vars, options);
}
