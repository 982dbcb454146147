// The live status page in a real headless Chromium against a real livmap (loopback UDP on
// 127.0.78.x, LevelDB, HTTP): the token is asked once, the sites, xTRs and registrations show,
// and a VM's move (Map-Registers of two sites) appears live, with its SMRs, without a reload.
// LIVMAP_SCREENSHOT=docs/status-page.png also saves a screenshot of the page at the end.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { decode } from '../../mapserver/codec/index.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { startService } from '../../mapserver/compose/service.js';
import { INTEROP_KEY } from '../helpers/fixtures.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { labConfig } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';
import { Browser, chromiumMissing } from './chromium.js';

const TOKEN = 'status-page-token';
const LOCAL = '127.0.78.1';
const CLOUD = '127.0.78.2';
const ITR = '127.0.78.9';
const VM = '10.16.50.7/32';
const site = (name: string, eid: string, description: string, more = false) =>
  ({ name, description, keys: [{ alg: 'hmac-sha1' as const, secret: INTEROP_KEY }], prefixes: [{ eid: parseEidPrefix(eid), acceptMoreSpecifics: more }] });

const missing = chromiumMissing();
// Under CI a missing browser is an install failure, not a skip.
const skip = missing !== undefined && process.env.CI !== 'true' ? missing : false;
t.test('the status page shows sites, xTRs and registrations, and a move live', { skip }, async (t) => {
    if (missing) {
      t.fail(`the status page test needs Chromium: ${missing}`);
      return;
    }
    const base = labConfig(t.testdir(), { sites: [site('local', '10.16.10.0/24', 'on-premises'), site('cloud', '192.168.20.0/24', 'cloud region'), site('vm', '10.16.50.0/24', 'migrating VMs', true)] });
    const s = await startService({ ...base, api: { listen: { host: '127.0.0.1', port: 0, family: 4 }, token: TOKEN } }, {
      logger: pino({ level: 'silent' }),
      sendFilter: (to) => to.address.startsWith('127.0.78.'),
    });
    t.teardown(() => s.close());
    const ms = s.lisp.addresses()[0] as Endpoint;
    const peers = await Promise.all([LOCAL, CLOUD, ITR, '127.0.78.3'].map((a) => UdpPeer.bind(a, 4342)));
    t.teardown(() => Promise.all(peers.map((p) => p.close())));
    const [local, cloud, itr, forger] = peers as [UdpPeer, UdpPeer, UdpPeer, UdpPeer];

    /** A register burst as OOR sends it: one Map-Register per mapping, each answered by a Map-Notify. */
    const burst = async (etr: UdpPeer, eids: string[]): Promise<void> => {
      for (const eid of eids) {
        await etr.send(mapRegisterBytes({ eid, rlocs: [etr.local.address] }), ms);
        while (decode((await etr.receive()).bytes).type !== 'map-notify');
      }
      // Bursts are registers < 250 ms apart: the next one is a burst of its own.
      await new Promise((r) => setTimeout(r, 300));
    };
    await burst(local, ['10.16.10.0/24', VM]);
    await burst(cloud, ['192.168.20.0/24']);
    // An ITR behind a third site asks for the VM: it will be solicited when the VM moves.
    await itr.send(ecmRequestBytes({ eid: '10.16.50.7', sourceEid: '172.16.30.5', itr: ITR }), ms);
    t.equal(decode((await itr.receive()).bytes).type, 'map-reply');

    const browser = await Browser.launch();
    t.teardown(() => browser.close());
    await browser.open(`${s.apiUrl}/`);
    await browser.waitFor(`!document.querySelector('#login').hidden`, 'the token form');
    t.equal(await browser.evaluate<boolean>(`document.querySelector('#status').hidden`), true, 'no data before the token');
    await browser.type('#token', TOKEN);
    await browser.evaluate(`document.querySelector('#login-form button[type=submit]').click()`);

    // Sites with their prefixes and xTRs.
    await browser.waitFor(`document.querySelectorAll('#sites-list [data-site]').length === 3`, 'three site cards');
    await browser.waitFor(`document.querySelector('#conn').textContent === 'live'`, 'the event stream');
    const card = (name: string) => browser.evaluate<string>(`document.querySelector('#sites-list [data-site="${name}"]').innerText`);
    t.match(await card('local'), /10\.16\.10\.0\/24/);
    t.match(await card('local'), new RegExp(`${LOCAL.replaceAll('.', '\\.')}:4342\\s+\\d+ s ago\\s+1\\s+registered`), 'xTR: from where, last registration, prefixes, state');
    t.equal(await browser.evaluate<string>(`document.querySelector('#sites-list [data-site="cloud"] tr[data-etr]').dataset.etr`), `rloc:${CLOUD}`);
    t.match(await card('vm'), /10\.16\.50\.0\/24 \(\+more-specifics\)/);
    t.match(await card('cloud'), /0 auth failures/);

    // Registrations, filtered.
    await browser.waitFor(`document.querySelector('#registrations tbody tr[data-eid="${VM}"]')`, 'the VM registration');
    t.equal(await browser.evaluate<number>(`document.querySelectorAll('#registrations tbody tr').length`), 3, 'two site prefixes and the VM');
    await browser.evaluate(`document.querySelector('#f-site').value = 'cloud'; document.querySelector('#reg-filter button[type=submit]').click()`);
    await browser.waitFor(`document.querySelectorAll('#registrations tbody tr').length === 1`, 'the site filter');
    t.equal(await browser.evaluate<string>(`document.querySelector('#registrations tbody tr').dataset.eid`), '192.168.20.0/24');
    await browser.evaluate(`document.querySelector('#f-site').value = ''; document.querySelector('#f-limit').value = '10'; document.querySelector('#reg-filter button[type=submit]').click()`);
    await browser.waitFor(`document.querySelectorAll('#registrations tbody tr').length === 3`, 'no filter');

    // The mobile EID is bound to the local site; no move yet.
    await browser.waitFor(`document.querySelector('#mobile tbody tr[data-eid="${VM}"] [data-bound-to="local"]')`, 'the VM bound to local');
    t.equal(await browser.evaluate<number>(`document.querySelectorAll('#moves tbody tr').length`), 0);

    // The VM migrates to the cloud: the cloud xTR registers it, the local one stops listing it.
    await browser.evaluate(`window.sameDocument = true`);
    await burst(cloud, ['192.168.20.0/24', VM]);
    await burst(local, ['10.16.10.0/24']);
    await browser.waitFor(`document.querySelector('#moves tbody tr[data-eid="${VM}"]')`, 'the move, live');
    const move = await browser.evaluate<string>(`document.querySelector('#moves tbody tr[data-eid="${VM}"]').innerText`);
    t.match(move, new RegExp(`${LOCAL.replaceAll('.', '\\.')} → ${CLOUD.replaceAll('.', '\\.')}`), 'from → to');
    t.match(move, /cloud/);
    t.match(move, /1 SMR · \d+ Notif(y|ies) · \d+\.\d\d ms/, 'the SMR fan-out');
    await browser.waitFor(`document.querySelector('#mobile tbody tr[data-eid="${VM}"] [data-bound-to="cloud"]')`, 'the VM bound to cloud');
    t.match(await browser.evaluate<string>(`document.querySelector('#mobile tbody tr[data-eid="${VM}"]').innerText`), /→ cloud/, 'its history');
    await browser.waitFor(`/left/.test(document.querySelector('#sites-list [data-site="vm"]').innerText)`, 'the local xTR left the VM');
    t.match(await browser.evaluate<string>(`document.querySelector('#event-list').innerText`), /moved\s*10\.16\.50\.7\/32/);

    // And back: the local xTR registers it again, the cloud one stops listing it.
    await burst(local, ['10.16.10.0/24', VM]);
    await burst(cloud, ['192.168.20.0/24']);
    await browser.waitFor(`document.querySelectorAll('#moves tbody tr').length === 2`, 'the move back');
    await browser.waitFor(`document.querySelector('#mobile tbody tr[data-eid="${VM}"] [data-bound-to="local"]')`, 'the VM bound to local again');

    // A forged Map-Register shows as an auth failure of the site it claimed.
    await forger.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.78.3'], secret: 'guessed-key' }), ms);
    await browser.waitFor(`document.querySelector('#sites-list [data-site="cloud"] [data-auth-failures="1"]')`, 'the auth failure');
    t.equal(await browser.evaluate<boolean>(`window.sameDocument === true`), true, 'all of it live: the page was never reloaded');

    if (process.env.LIVMAP_SCREENSHOT) {
      await new Promise((r) => setTimeout(r, 600)); // the row highlight fades
      await writeFile(process.env.LIVMAP_SCREENSHOT, await browser.screenshot());
      t.pass(`screenshot saved to ${process.env.LIVMAP_SCREENSHOT}`);
    }

    // The token is asked once: a reload goes straight to the status.
    await browser.open(`${s.apiUrl}/`);
    await browser.waitFor(`document.querySelectorAll('#sites-list [data-site]').length === 3`, 'the status after a reload');
    t.equal(await browser.evaluate<boolean>(`document.querySelector('#login').hidden`), true, 'no second token prompt');
    // A wrong token is refused and asked again.
    await browser.evaluate(`sessionStorage.setItem('livmap-token', 'wrong'); location.reload()`);
    await browser.waitFor(`!document.querySelector('#login').hidden && /refused/.test(document.querySelector('#login-error').textContent)`, 'the refusal of a wrong token');
    t.same(browser.console.filter((line) => /^(error|exception)/.test(line)), [], 'no errors in the page console');
});
