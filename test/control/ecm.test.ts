// An ECM carrying anything but a Map-Request (RFC 9301 §5.8: toward a Map-Resolver it carries
// Map-Requests) is not handled: it is counted under its own drop reason, `ecm-inner-type`, not
// lumped with other unsupported input, and nothing is answered or registered.
import t from 'tap';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { MapRegister } from '../../mapserver/codec/types.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { ecmRequestBytes, mapRegisterBytes } from '../helpers/lisp.js';
import { startLabServer } from '../helpers/server.js';
import { UdpPeer } from '../helpers/udp.js';

t.test('an ECM carrying a Map-Register is dropped as ecm-inner-type; one carrying a Map-Request is answered', async (t) => {
  const server = await startLabServer(t, {}, { host: '127.0.63.100' });
  const [ms] = server.addresses() as [Endpoint];
  const peer = await UdpPeer.bind('127.0.63.1', 4342);
  t.teardown(() => peer.close());
  const register = decode(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: ['127.0.63.1'] })) as MapRegister;
  const ecm = encode({
    type: 'ecm', security: false, ddt: false,
    inner: { version: 4, source: '127.0.63.1', destination: '127.0.63.100', sourcePort: 4342, destinationPort: 4342, ttl: 64 },
    message: register,
  });
  const count = (reason: string): Promise<number> => server.metrics.value('livmap_messages_dropped_total', { reason });
  await peer.send(ecm, ms);
  t.ok(await peer.silentFor(300), 'nothing answered');
  t.equal(await count('ecm-inner-type'), 1, 'counted as ecm-inner-type');
  t.equal(await count('unsupported'), 0, 'not as a generic unsupported');
  t.equal(server.db.liveRegistrations, 0, 'nothing registered');
  await peer.send(ecmRequestBytes({ eid: '192.168.20.10', sourceEid: '172.16.30.10', itr: '127.0.63.1' }), ms);
  t.equal(decode((await peer.receive()).bytes).type, 'map-reply', 'an ECM Map-Request is still answered');
});
