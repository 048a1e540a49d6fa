import { describe, expect, it } from 'vitest';
import { currentDataDoc, lfnOf, usableReplicas, type StoredDataDoc } from '../src/model/data.js';
import type { DataFile } from '../src/model/documents.js';

const header = {
  _id: 'data:WaterN16:300000:2:ntuple',
  _rev: '3-abc',
  type: 'data' as const,
  module: 'WaterN16',
  run: 300000,
  pass: 2,
  label: 'water-2026',
  data_type: 'ntuple',
};

const olderFile = (subjob: number, url: string) => ({
  subjob,
  name: `WaterN16_r300000_s${subjob}_p2.ntuple.root`,
  guid: `guid-${subjob}`,
  size: 100 + subjob,
  adler32: '0000abcd',
  sha256: 'e'.repeat(64),
  events: 7,
  url,
});

describe('currentDataDoc', () => {
  it("gives an older document's files their LFN and their URL as the one replica, keeping GUID, checksums, URL and _rev", () => {
    const stored: StoredDataDoc = {
      ...header,
      files: [olderFile(0, 'root://se.sfu.example:1094//snoplus/a.root'), olderFile(1, 'file:///data/b.root')],
    };
    const { doc, migrated } = currentDataDoc(stored);
    expect(migrated).toBe(true);
    expect(doc).toEqual({
      ...header,
      files: [
        {
          ...olderFile(0, 'root://se.sfu.example:1094//snoplus/a.root'),
          lfn: '/water-2026/WaterN16/300000/2/WaterN16_r300000_s0_p2.ntuple.root',
          replicas: [{ se: 'root://se.sfu.example:1094', url: 'root://se.sfu.example:1094//snoplus/a.root' }],
        },
        {
          ...olderFile(1, 'file:///data/b.root'),
          lfn: '/water-2026/WaterN16/300000/2/WaterN16_r300000_s1_p2.ntuple.root',
          replicas: [{ se: 'file', url: 'file:///data/b.root' }],
        },
      ],
    });
    expect(stored.files[0]).not.toHaveProperty('lfn');
  });

  it("leaves a document in today's form as it is, and says nothing was migrated", () => {
    const { doc: today } = currentDataDoc({ ...header, files: [olderFile(0, 'file:///data/a.root')] });
    const again = currentDataDoc(today);
    expect(again).toEqual({ doc: today, migrated: false });
    expect(again.doc).toBe(today);
  });

  it('keeps the LFN or the replicas a file already has', () => {
    const replicas = [{ se: 'SFU-SE', url: 'root://a//x' }];
    const { doc } = currentDataDoc({
      ...header,
      files: [
        { ...olderFile(0, 'root://a//x'), replicas },
        { ...olderFile(1, 'root://a//y'), lfn: '/kept/y' },
      ],
    });
    expect(doc.files[0]).toMatchObject({ lfn: lfnOf(header, olderFile(0, '').name), replicas });
    expect(doc.files[1]).toMatchObject({ lfn: '/kept/y', replicas: [{ se: 'root://a', url: 'root://a//y' }] });
  });
});

describe('usableReplicas', () => {
  const file = (replicas: DataFile['replicas']): DataFile => ({
    ...olderFile(0, replicas[0]?.url ?? ''),
    lfn: '/l',
    replicas,
  });
  const replicas = [
    { se: 'RAL-SE', url: 'root://ral//f' },
    { se: 'SFU-SE', url: 'root://sfu//f', missing: '2026-11-30T00:00:00Z' },
    { se: 'file', url: 'file:///f' },
    { se: 'CEDAR-SE', url: 'root://cedar//f' },
  ];

  it('leaves out copies marked missing and keeps the recorded order without a preference', () => {
    expect(usableReplicas(file(replicas)).map((replica) => replica.se)).toEqual(['RAL-SE', 'file', 'CEDAR-SE']);
  });

  it('puts the preferred SEs first, in the order preferred, the rest after them as recorded', () => {
    expect(usableReplicas(file(replicas), ['CEDAR-SE', 'SFU-SE', 'file']).map((replica) => replica.se)).toEqual([
      'CEDAR-SE',
      'file',
      'RAL-SE',
    ]);
  });

  it('gives none when every copy is missing', () => {
    expect(usableReplicas(file([{ se: 'A', url: 'root://a//f', missing: '2026-11-30T00:00:00Z' }]))).toEqual([]);
  });
});
