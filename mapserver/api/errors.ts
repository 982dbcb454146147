// Every API error is JSON `{ statusCode, error, message, field? }` with a message a person can act on.
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorObject } from 'ajv';
import { ConfigError } from '../json/convert.js';
import { describeSchemaError } from '../json/validate.js';
import { PrefixError } from '../codec/prefix.js';

export class ApiError extends Error {
  constructor(readonly statusCode: number, message: string, readonly field?: string) {
    super(message);
    this.name = 'ApiError';
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error' };

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError | ConfigError | PrefixError, request, reply) => {
    let status = 500;
    let message = 'internal error';
    let field: string | undefined;
    if (error instanceof ApiError) {
      status = error.statusCode;
      message = error.message;
      field = error.field;
    } else if (error instanceof ConfigError) {
      status = 400;
      message = error.message;
      field = error.field;
    } else if (error instanceof PrefixError) {
      status = 400;
      message = error.message;
    } else if ('validation' in error && Array.isArray(error.validation) && error.validation.length > 0) {
      status = 400;
      const first = [...(error.validation as ErrorObject[])].sort((a, b) => b.instancePath.length - a.instancePath.length)[0]!;
      const where = error.validationContext ?? 'body';
      const described = describeSchemaError('', first);
      field = described.field === '(root)' ? where : `${where}.${described.field}`;
      message = `${field}: ${described.problem}`;
    } else if (typeof (error as FastifyError).statusCode === 'number' && (error as FastifyError).statusCode! < 500) {
      status = (error as FastifyError).statusCode!;
      const code = (error as FastifyError).code;
      message =
        code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body is too large (limit 1 MiB)'
        : code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'send the body as application/json'
        : code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'the JSON body is empty'
        : error instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `the body is not valid JSON (${error.message})`
        : error.message;
    } else {
      request.log.error({ err: error }, 'unhandled API error');
    }
    void reply.status(status).send({ statusCode: status, error: REASONS[status] ?? 'Error', message, ...(field ? { field } : {}) });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}
