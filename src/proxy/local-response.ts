/**
 * Answers Gatehouse gives itself, IIS style: the status with its sub-status in the body, a short HTML
 * page for browsers and one line of text for other clients. Bodies are built once.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';

export interface LocalAnswer {
  readonly status: number;
  readonly subStatus: number;
  readonly text: Buffer;
  readonly html: Buffer;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

const DESCRIPTIONS: Record<string, string> = {
  '400.0': 'The request is not valid: its host name, target, header fields or framing.',
  '405.0': 'The method is not allowed here (CONNECT is not proxied).',
  '408.0': 'The request did not arrive in time.',
  '431.0': 'The request has too many header fields, or they are too large.',
  '413.13': 'The request body is larger than this site allows (maxAllowedContentLength).',
  '414.14': 'The URL is longer than this site allows (maxUrl).',
  '414.15': 'The query string is longer than this site allows (maxQueryString).',
  '500.0': 'The proxy failed to handle the request; the event log has the details.',
  '505.0': 'Only HTTP/1.0, HTTP/1.1 and (over TLS, by ALPN) HTTP/2 are spoken here.',
  '404.0': 'The resource you are looking for has been removed, had its name changed, or is temporarily unavailable.',
  '403.4': 'SSL is required: this site must be reached over https.',
  '403.7': 'A client certificate is required, and none was presented.',
  '403.13': 'The client certificate has been revoked.',
  '403.16': 'The client certificate is not trusted or is invalid.',
  '403.17': 'The client certificate has expired or is not yet valid.',
  '403.501': 'Too many requests from this client at once (Dynamic IP Restrictions).',
  '403.502': 'Too many requests from this client in a short time (Dynamic IP Restrictions).',
  '421.0': 'This connection was set up for another host name: open a new connection for this one.',
  '502.3': 'The server in the farm did not answer: the connection was refused, reset or timed out.',
  '502.4': 'No server in the farm is available to handle the request.',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

const answers = new Map<string, LocalAnswer>();

export function localAnswer(status: number, subStatus: number): LocalAnswer {
  const key = `${status}.${subStatus}`;
  let answer = answers.get(key);
  if (answer) return answer;
  const title = TITLES[status] ?? 'Error';
  const description = DESCRIPTIONS[key] ?? '';
  const text = `HTTP Error ${key} - ${title}\n${description}\n`;
  const html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${key} - ${escapeHtml(title)}</title></head><body>\n<h1>HTTP Error ${key} - ${escapeHtml(title)}</h1>\n<p>${escapeHtml(description)}</p>\n<hr><p>Gatehouse</p>\n</body></html>\n`;
  answer = { status, subStatus, text: Buffer.from(text), html: Buffer.from(html) };
  answers.set(key, answer);
  return answer;
}

/** Sends a local answer, in HTML when the client prefers it. Returns the body length. */
export function sendLocalAnswer(req: IncomingMessage, res: ServerResponse, answer: LocalAnswer): number {
  const wantsHtml = req.headers.accept?.includes('text/html') === true;
  const body = wantsHtml ? answer.html : answer.text;
  res.writeHead(answer.status, {
    'content-type': wantsHtml ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return body.length;
}

/** A whole HTTP/1.1 response with the text body and `Connection: close`, for a socket no ServerResponse owns. */
export function closingAnswer(status: number, subStatus = 0): string {
  const body = localAnswer(status, subStatus).text.toString('latin1');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`;
}
