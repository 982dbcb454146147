// The embedded default: the live-migration scenario's two sites. The secret is the one the OOR
// lab captures use, so OOR xTRs configured by `livmap xtr-config` register without edits.
import type { ConfigJson } from '../json/schema.js';

export const DEMO_CONFIG: ConfigJson = {
  dataDir: './data',
  lisp: { listen: ['0.0.0.0:4342', '[::]:4342'] },
  api: { listen: '127.0.0.1:8080' },
  sites: [
    {
      name: 'local',
      description: 'on-premises site (underlay 172.16.10.0/24)',
      keys: [{ alg: 'hmac-sha1', secret: 'lisp-interop-key' }],
      prefixes: [{ eid: '10.16.10.0/24', iid: 0, acceptMoreSpecifics: true }],
    },
    {
      name: 'cloud',
      description: 'cloud site (underlay 172.20.20.0/24)',
      keys: [{ alg: 'hmac-sha1', secret: 'lisp-interop-key' }],
      prefixes: [{ eid: '192.168.20.0/24', iid: 0, acceptMoreSpecifics: true }],
    },
  ],
  mappings: [],
};
