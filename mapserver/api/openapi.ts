// OpenAPI answers every route shares, added as routes are declared so no route can forget them:
// 400 where there is input to validate, and on the protected routes the bearer requirement and 401.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String({ description: 'what is wrong, for a person' }),
  field: Type.Optional(Type.String({ description: 'the input field at fault, e.g. querystring.eid' })),
});

/** An error answer documented with what it means on this route. */
export const errorAnswer = (description: string) => Type.Object(ErrorReply.properties, { description });

export function documentAnswers(app: FastifyInstance, options: { readonly protected: boolean }): void {
  app.addHook('onRoute', (route) => {
    const schema: Record<string, unknown> = { ...(route.schema ?? {}) };
    if (schema.hide) return;
    const response: Record<string, unknown> = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
    if ((schema.body || schema.querystring || schema.params) && !response[400]) {
      response[400] = errorAnswer('the input is not valid (the message names the field)');
    }
    if (options.protected) {
      response[401] ??= errorAnswer('no or a wrong `Authorization: Bearer TOKEN` header');
      schema.security = [{ bearer: [] }];
    }
    route.schema = { ...schema, response };
  });
}
