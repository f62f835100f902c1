import { describe, expect, it } from 'vitest';
import { defaultDomainConfig, XL_DEFAULT_MEMORY_MIB } from '../../src/model/domain-config.js';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';

describe('defaultDomainConfig', () => {
  it("gives a cfg's missing fields the values the xl.cfg parser gives them", () => {
    // The parser also keeps every key it read in `raw`; the typed fields are what is compared.
    const parsed = (text: string) => ({ ...parseXlCfg(text, 'web1.cfg'), raw: {} });
    expect(defaultDomainConfig('web1')).toEqual(parsed("name = 'web1'\n"));
    expect(defaultDomainConfig('web1', { memory: 256, vcpus: 2 })).toEqual(
      parsed("name = 'web1'\nmemory = 256\nvcpus = 2\n"),
    );
  });

  it.each([
    [{}, { memory: XL_DEFAULT_MEMORY_MIB, maxmem: XL_DEFAULT_MEMORY_MIB }],
    [{ memory: 256 }, { memory: 256, maxmem: 256 }],
    [{ maxmem: 1024 }, { memory: 1024, maxmem: 1024 }],
    [
      { memory: 256, maxmem: 1024 },
      { memory: 256, maxmem: 1024 },
    ],
    [{ vcpus: 2 }, { vcpus: 2, maxvcpus: 2 }],
    [
      { vcpus: 1, maxvcpus: 4 },
      { vcpus: 1, maxvcpus: 4 },
    ],
  ])('fills in %j as %j', (fields, expected) => {
    expect(defaultDomainConfig('web1', fields)).toMatchObject(expected);
  });

  it('keeps the name it is given over one among the fields', () => {
    expect(defaultDomainConfig('web1', { name: 'other' }).name).toBe('web1');
  });
});
