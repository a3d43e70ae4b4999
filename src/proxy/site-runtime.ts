/**
 * Sites and bindings at run time: the config objects plus what the request path needs precomputed
 * (the farm's state, the headers to strip, the X-ARR-SSL server fields).
 */
import type { Binding, Site } from '../config/model.js';
import type { FarmState } from '../farm/farm-state.js';
import { windowsDn } from '../tls/distinguished-name.js';
import { strippedRequestHeaders } from './request-headers.js';
import { ChainCache } from '../tls/chain-cache.js';
import type { SiteTracer } from '../tracing/site-tracer.js';

export class SiteRuntime {
  readonly name: string;
  readonly config: Site;
  readonly farm: FarmState;
  /** Lower-case request header names never forwarded from a client. */
  readonly strippedHeaders: ReadonlySet<string>;
  /** Failed request tracing for this site; undefined when the site has no tracing rules. */
  tracer: SiteTracer | undefined;
  /** Client chains seen on full handshakes, for resumed sessions that lack them. */
  readonly chains = new ChainCache();

  constructor(config: Site, farm: FarmState) {
    this.name = config.name;
    this.config = config;
    this.farm = farm;
    this.strippedHeaders = strippedRequestHeaders(farm.config.protocol);
  }
}

export class BindingRuntime {
  readonly config: Binding;
  readonly site: SiteRuntime;
  /** `<server key bits>|` … the X-ARR-SSL fields that depend on the binding's certificate only. */
  readonly sslServerKeyBits: number;
  readonly sslServerIssuer: string;
  readonly sslServerSubject: string;
  /** `https://127.0.0.1:8443` for the startup line. */
  readonly url: string;

  constructor(config: Binding, site: SiteRuntime) {
    this.config = config;
    this.site = site;
    const leaf = config.certificate?.leaf;
    const details = leaf?.publicKey.asymmetricKeyDetails;
    this.sslServerKeyBits = details?.modulusLength ?? curveBits(details?.namedCurve) ?? 0;
    this.sslServerIssuer = leaf ? windowsDn(leaf.issuer) : '';
    this.sslServerSubject = leaf ? windowsDn(leaf.subject) : '';
    const host = config.address.includes(':') ? `[${config.address}]` : config.address;
    this.url = `${config.protocol}://${host}:${config.port}`;
  }

  /** X-ARR-SSL for a connection using `cipherBits`. */
  sslHeaderValue(cipherBits: number): string {
    return `${this.sslServerKeyBits}|${cipherBits}|${this.sslServerIssuer}|${this.sslServerSubject}`;
  }
}

function curveBits(curve: string | undefined): number | undefined {
  if (!curve) return undefined;
  const match = /(\d{3})/.exec(curve);
  return match ? Number(match[1]) : curve === 'ed25519' ? 256 : undefined;
}

/** Symmetric key bits of a negotiated cipher, from its standard name. */
export function cipherKeyBits(standardName: string | undefined): number {
  if (!standardName) return 0;
  if (/CHACHA20|AES_256|AES256/.test(standardName)) return 256;
  if (/AES_128|AES128/.test(standardName)) return 128;
  if (/3DES|DES_EDE/.test(standardName)) return 168;
  return 0;
}
