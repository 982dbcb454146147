// The server reaches persistent state only through the StateStore seam (store/state-store.ts):
// given another opener, every write goes through it. Here the opener wraps the real LevelDB store
// and records what passes, the way a clustered store would stand in its place.
import t from 'tap';
import type { Endpoint, StateChange } from '../../mapserver/db/model.js';
import type { OpenedStore, StateStore, StoreOpener } from '../../mapserver/store/state-store.js';
import { Store } from '../../mapserver/store/store.js';
import { mapRegisterBytes } from '../helpers/lisp.js';
import { startLabServer } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';

t.test('a Map-Register is made durable through the store the server was given', async (t) => {
  const seen: StateChange['kind'][] = [];
  let closed = false;
  let openedAt = '';
  const openStore: StoreOpener = async (dataDir): Promise<OpenedStore> => {
    openedAt = dataDir;
    const loaded = await Store.openAndLoad(dataDir);
    const level = loaded.store;
    const recording: StateStore<unknown> = {
      location: `recorded:${level.location}`,
      prepare: (changes) => {
        seen.push(...changes.map((c) => c.kind));
        return level.prepare(changes);
      },
      commit: (batches) => level.commit(batches as Parameters<typeof level.commit>[0]),
      apply: (changes) => {
        seen.push(...changes.map((c) => c.kind));
        return level.apply(changes);
      },
      close: async () => {
        closed = true;
        await level.close();
      },
    };
    return { ...loaded, store: recording };
  };
  const server = await startLabServer(t, { openStore }, { host: '127.0.97.1' });
  t.match(openedAt, /\S/, 'the server opened its data directory through the given opener');
  const [ms] = server.addresses() as [Endpoint];
  const xtr = await UdpPeer.bind('127.0.97.2');
  t.teardown(() => xtr.close());
  await xtr.send(mapRegisterBytes({ eid: '10.16.10.0/24', rlocs: ['127.0.97.2'] }), ms);
  await xtr.receive();
  t.ok(seen.includes('put-registration'), `the registration went through the given store (${seen.join(', ')})`);
  await server.close();
  t.ok(closed, 'closing the server closed the given store');
  const reopened = await Store.openAndLoad(openedAt);
  t.teardown(() => reopened.store.close());
  t.equal(reopened.state.registrations.length, 1, 'and it is in LevelDB underneath');
});
