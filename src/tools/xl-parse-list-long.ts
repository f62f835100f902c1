/**
 * Parser for `xl list -l`: a JSON array of `{domid, config: libxl_domain_config}` (xl.conf's default
 * output_format). Only the fields xenkit needs are typed; the rest is kept as details.
 */
import { runtimeError } from '../errors.js';

/** What `xl list -l` tells about one domain beyond the table. */
export interface XlDomainRecord {
  id: number | null;
  name: string;
  uuid: string | undefined;
  type: string | undefined;
  maxVcpus: number | undefined;
  maxMemoryMiB: number | undefined;
  targetMemoryMiB: number | undefined;
  /** The whole libxl_domain_config, for `list -l`. */
  config: Record<string, unknown>;
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function kibToMiB(value: unknown): number | undefined {
  const kib = asNumber(value);
  return kib === undefined ? undefined : Math.floor(kib / 1024);
}

/** Parses the JSON that `xl list -l` prints. */
export function parseXlListLong(text: string): XlDomainRecord[] {
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? [] : JSON.parse(text);
  } catch (error) {
    throw runtimeError(
      'E_XL_OUTPUT',
      'xl list -l did not print JSON',
      'set output_format="json" in /etc/xen/xl.conf (xenkit cannot read the SXP format)',
      error,
    );
  }
  if (!Array.isArray(parsed)) {
    throw runtimeError('E_XL_OUTPUT', 'xl list -l printed JSON that is not an array', 'is xl a Xen 4.x xl?');
  }
  return parsed.map((entry) => {
    const record = asObject(entry);
    const config = asObject(record.config);
    const cInfo = asObject(config.c_info);
    const bInfo = asObject(config.b_info);
    return {
      id: asNumber(record.domid) ?? null,
      name: typeof cInfo.name === 'string' ? cInfo.name : '',
      uuid: typeof cInfo.uuid === 'string' ? cInfo.uuid : undefined,
      type: typeof cInfo.type === 'string' ? cInfo.type : undefined,
      maxVcpus: asNumber(bInfo.max_vcpus),
      maxMemoryMiB: kibToMiB(bInfo.max_memkb),
      targetMemoryMiB: kibToMiB(bInfo.target_memkb),
      config,
    };
  });
}
