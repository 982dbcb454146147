// Text forms shared by the API's answers.
import type { Endpoint } from '../db/model.js';
import { formatHostPort } from '../codec/text.js';

/** `10.0.0.1:4342`, `[2001:db8::1]:4342`. */
export function endpointText(endpoint: Endpoint): string {
  return formatHostPort(endpoint.address, endpoint.port);
}
