import { describe, expect, it } from 'vitest';
import { Secret } from '../src/secret.js';
import { captureLog } from './support/log.js';

describe('logs', () => {
  it('write password fields and Secrets as ***, however they are nested', () => {
    const { log, text, lines } = captureLog();
    const component = log.child({ component: 'enqueue', site: 'ral' });
    component.info({ password: 'p1', couchdb: { password: 'p2' }, headers: { authorization: 'Basic cDM=' } }, 'connected');
    component.info({ config: { couchdb: { password: new Secret('p4') } } }, 'config');
    expect(text()).not.toMatch(/p1|p2|cDM=|p4/);
    expect(lines[0]).toMatchObject({ component: 'enqueue', site: 'ral', password: '***', couchdb: { password: '***' } });
    expect(lines[1]).toMatchObject({ config: { couchdb: { password: '***' } } });
  });

  it('turn a Secret into *** in strings, JSON and inspection', () => {
    const secret = new Secret('hunter2');
    expect(`${secret}`).toBe('***');
    expect(JSON.stringify({ secret })).toBe('{"secret":"***"}');
    expect(secret.reveal()).toBe('hunter2');
  });
});
