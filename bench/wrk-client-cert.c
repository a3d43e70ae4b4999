/*
 * LD_PRELOAD shim that lets wrk (which has no option for it) present a TLS client certificate, and
 * controls TLS session resumption so that "new connections" really are full handshakes.
 *
 * Built by bench/run.ts at bench time (never committed as a binary):
 *   cc -O2 -shared -fPIC -o wrk-client-cert.so bench/wrk-client-cert.c -ldl -lssl -lcrypto
 * Used as:
 *   LD_PRELOAD=./wrk-client-cert.so WRK_CLIENT_CERT=alice.pem WRK_CLIENT_KEY=alice.key wrk https://...
 *
 * Environment:
 *   WRK_CLIENT_CERT  PEM certificate chain (leaf first) presented to the server
 *   WRK_CLIENT_KEY   PEM private key of the leaf
 *   WRK_TLS_RESUME   "1": let wrk resume its previous session on a new connection (wrk reuses its SSL
 *                    object with SSL_clear, which keeps the session). Otherwise every connection makes
 *                    a full handshake: the cached session is dropped before SSL_connect starts.
 *   WRK_TLS_STATS    a file to which the shim appends "handshakes=N resumed=M" when wrk exits
 *
 * wrk calls SSL_CTX_new once (ssl_init) and SSL_connect for every (re)connection, so wrapping those
 * two covers it. The real functions are found with dlsym(RTLD_NEXT).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long handshakes;
static atomic_long resumed;

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
  static SSL_CTX *(*real)(const SSL_METHOD *) = NULL;
  if (real == NULL) real = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
  SSL_CTX *ctx = real(method);
  const char *cert = getenv("WRK_CLIENT_CERT");
  const char *key = getenv("WRK_CLIENT_KEY");
  if (ctx == NULL || cert == NULL || key == NULL) return ctx;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    fprintf(stderr, "wrk-client-cert: cannot load %s / %s\n", cert, key);
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  const char *resume = getenv("WRK_TLS_RESUME");
  if (resume == NULL || strcmp(resume, "1") != 0) SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
}

int SSL_connect(SSL *ssl) {
  static int (*real)(SSL *) = NULL;
  if (real == NULL) real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
  const char *resume = getenv("WRK_TLS_RESUME");
  /* Before the handshake has started only: wrk calls SSL_connect again on WANT_READ/WANT_WRITE. */
  if (SSL_in_before(ssl) && (resume == NULL || strcmp(resume, "1") != 0)) SSL_set_session(ssl, NULL);
  int rc = real(ssl);
  if (rc == 1) {
    atomic_fetch_add(&handshakes, 1);
    if (SSL_session_reused(ssl)) atomic_fetch_add(&resumed, 1);
  }
  return rc;
}

__attribute__((destructor)) static void report(void) {
  const char *file = getenv("WRK_TLS_STATS");
  if (file == NULL) return;
  FILE *out = fopen(file, "a");
  if (out == NULL) return;
  fprintf(out, "handshakes=%ld resumed=%ld\n", atomic_load(&handshakes), atomic_load(&resumed));
  fclose(out);
}
