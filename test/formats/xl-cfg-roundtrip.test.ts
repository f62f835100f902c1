import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  DiskConfig,
  DomainConfig,
  LifecycleAction,
  VifConfig,
  XlValue,
} from '../../src/model/domain-config.js';
import { formatDiskSpec } from '../../src/formats/xl-cfg-disk.js';
import { MODELLED_XL_KEYS, domainConfigToValues } from '../../src/formats/xl-cfg-domain.js';
import { parseXlCfg, parseXlCfgValues } from '../../src/formats/xl-cfg-parse.js';
import { renderDomainConfig } from '../../src/formats/xl-cfg-render.js';
import { renderXlValues } from '../../src/formats/xl-cfg-values.js';
import { formatVifSpec } from '../../src/formats/xl-cfg-vif.js';

const key = fc.stringMatching(/^[a-z][_0-9a-z]{0,11}$/);
// Any text but NUL (which libxlu's C strings cannot hold).
const text = fc.string({ unit: 'binary', maxLength: 24 }).filter((s) => !s.includes('\0'));
const value: fc.Arbitrary<XlValue> = fc.letrec<{ value: XlValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
})).value;

describe('xl.cfg values round trip', () => {
  it('reads back every rendered value map unchanged', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (values) => {
        expect(parseXlCfgValues(renderXlValues(values))).toEqual(values);
      }),
      { numRuns: 500 },
    );
  });
});

// Values without the separators of disk and vif specs; paths may hold anything else.
const word = fc.stringMatching(/^[A-Za-z0-9][-A-Za-z0-9_.:/]{0,15}$/);
const target = fc.oneof(
  fc.constant(''),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 30 })
    .filter((s) => !s.includes('\0') && !s.endsWith(',')),
);
const action = fc.constantFrom<LifecycleAction>(
  'destroy',
  'restart',
  'rename-restart',
  'preserve',
  'coredump-destroy',
  'coredump-restart',
  'soft-reset',
);
const extraDiskParams = fc.subarray([
  'backendtype=qdisk',
  'discard',
  'script=block-iscsi',
  'specification=xen',
]);
const disk: fc.Arbitrary<DiskConfig> = fc
  .record({
    target,
    format: fc.constantFrom('raw', 'qcow', 'qcow2', 'vhd', 'qed', 'empty'),
    vdev: fc.stringMatching(/^(xvd|hd|sd)[a-z]{1,2}[0-9]{0,2}$/),
    access: fc.constantFrom<'rw' | 'ro'>('rw', 'ro'),
    isCdrom: fc.boolean(),
    extras: extraDiskParams,
  })
  .map(({ extras, ...fields }) => {
    const withExtras = { ...fields, raw: [...extras, 'vdev=x'].join(', ') };
    return { ...fields, raw: formatDiskSpec(withExtras) };
  });
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
const vif: fc.Arbitrary<VifConfig> = fc
  .record({
    mac: optional(fc.stringMatching(/^00:16:3[eE](:[0-9a-fA-F]{2}){3}$/)),
    bridge: optional(word),
    ip: optional(fc.array(fc.ipV4(), { minLength: 1, maxLength: 3 }).map((ips) => ips.join(' '))),
    vifname: optional(word),
    model: optional(fc.constantFrom('e1000', 'rtl8139', 'virtio-net')),
    extras: fc.subarray(['type=vif', 'rate=10Mb/s', 'script=vif-route']),
  })
  .map(({ extras, ...fields }) => ({ ...fields, raw: formatVifSpec({ ...fields, raw: extras.join(',') }) }));
const otherKeys = fc.dictionary(
  key.filter((k) => !MODELLED_XL_KEYS.includes(k)),
  value,
  { maxKeys: 4 },
);

const domainConfig: fc.Arbitrary<DomainConfig> = fc
  .record({
    name: text.filter((s) => s !== ''),
    type: fc.constantFrom<DomainConfig['type']>('pv', 'pvh', 'hvm'),
    memory: fc.integer({ min: 1, max: 1 << 22 }),
    maxmem: fc.integer({ min: 1, max: 1 << 22 }),
    vcpus: fc.integer({ min: 1, max: 128 }),
    maxvcpus: fc.integer({ min: 1, max: 128 }),
    kernel: optional(text),
    ramdisk: optional(text),
    root: optional(text),
    extra: optional(text),
    cmdline: optional(text),
    bootloader: optional(fc.constantFrom('pygrub', '/usr/lib/xen-4.17/bin/pygrub')),
    disks: fc.array(disk, { maxLength: 4 }),
    vifs: fc.array(vif, { maxLength: 3 }),
    onPoweroff: action,
    onReboot: action,
    onCrash: action,
    others: otherKeys,
  })
  .map(({ others, ...fields }) => {
    const config: DomainConfig = { ...fields, raw: others };
    return { ...config, raw: domainConfigToValues(config) };
  });

describe('DomainConfig round trip', () => {
  it('parseXlCfg(renderDomainConfig(x)) deep-equals x', () => {
    fc.assert(
      fc.property(domainConfig, (config) => {
        expect(parseXlCfg(renderDomainConfig(config))).toEqual(config);
      }),
      { numRuns: 300 },
    );
  });

  it('reaches that fixed point after one round from any parsed config', () => {
    const parsed = parseXlCfg(
      "name='g'\nbuilder='hvm'\nmemory='256'\ndisk=['tap:aio:/x,xvda2,w', '/iso,,hdc,cdrom']\nvif=['ip=1.2.3.4 ,mac=00:16:3E:00:00:01']\nvnc=1",
    );
    const once = parseXlCfg(renderDomainConfig(parsed));
    const { raw: parsedRaw, disks: parsedDisks, vifs: parsedVifs, ...parsedFields } = parsed;
    const { raw: onceRaw, disks: onceDisks, vifs: onceVifs, ...onceFields } = once;
    expect(onceFields).toEqual(parsedFields);
    expect(onceDisks.map(({ raw: _raw, ...d }) => d)).toEqual(parsedDisks.map(({ raw: _raw, ...d }) => d));
    expect(onceVifs.map(({ raw: _raw, ...v }) => v)).toEqual(parsedVifs.map(({ raw: _raw, ...v }) => v));
    expect(onceRaw.vnc).toBe(parsedRaw.vnc);
    expect(parseXlCfg(renderDomainConfig(once))).toEqual(once);
  });
});
