import { describe, expect, it } from 'vitest';
import { scrubCredentials } from '../src/scrub.js';
import { Secret } from '../src/secret.js';
import { captureLog } from './support/log.js';

describe('logs', () => {
  it('write password fields and Secrets as ***, however they are nested', () => {
    const { log, text, lines } = captureLog();
    const component = log.child({ component: 'enqueue', site: 'ral' });
    component.info(
      { password: 'p1', couchdb: { password: 'p2' }, headers: { authorization: 'Basic cDM=' } },
      'connected',
    );
    component.info({ config: { couchdb: { password: new Secret('p4') } } }, 'config');
    expect(text()).not.toMatch(/p1|p2|cDM=|p4/);
    expect(lines[0]).toMatchObject({
      component: 'enqueue',
      site: 'ral',
      password: '***',
      couchdb: { password: '***' },
    });
    expect(lines[1]).toMatchObject({ config: { couchdb: { password: '***' } } });
  });

  it('turn a Secret into *** in strings, JSON and inspection', () => {
    const secret = new Secret('hunter2');
    expect(`${secret}`).toBe('***');
    expect(JSON.stringify({ secret })).toBe('{"secret":"***"}');
    expect(secret.reveal()).toBe('hunter2');
  });
});

describe('scrubbing credentials from text', () => {
  it.each([
    ['GET http://admin:hunter2@couch:5984/db failed', 'GET http://***@couch:5984/db failed'],
    ['see https://u:p@ss/w@rd@host/x and http://plain/y', 'see https://***@host/x and http://plain/y'],
  ])('%s', (text, scrubbed) => {
    expect(scrubCredentials(text)).toBe(scrubbed);
  });
});
