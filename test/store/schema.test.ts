// The fast registration reader against proto/livmap.proto: every field it reads has the number
// the schema gives that name, and it reads every field of the messages it decodes. (The wire types
// are checked by the round trips in store.test.ts, whose encoder is protobufjs reading the .proto.)
import t from 'tap';
import protobuf from 'protobufjs';
import { findProtoFile } from '../../mapserver/store/codec.js';
import { READER_FIELDS } from '../../mapserver/store/registration-reader.js';

const root = protobuf.loadSync(findProtoFile());

for (const [message, fields] of Object.entries(READER_FIELDS)) {
  t.test(`livmap.v1.${message}`, async (t) => {
    const type = root.lookupType(`livmap.v1.${message}`);
    const inSchema = Object.fromEntries(Object.values(type.fields).map((f) => [f.name, f.id]));
    // protobufjs keeps the .proto's snake_case names unless told otherwise (keepCase is off: camelCase).
    const schemaBySnake = Object.fromEntries(Object.entries(inSchema).map(([name, id]) => [snake(name), id]));
    t.same(fields, schemaBySnake, 'the reader reads exactly the schema\'s fields, under the schema\'s numbers');
  });
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
