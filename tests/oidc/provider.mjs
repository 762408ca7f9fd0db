// A real OpenID provider (oidc-provider) for capstan's end-to-end tests, on loopback only.
//
//   node provider.mjs [--port N] [--resource URI]... [--scope S]...
//
// --port (or $OIDC_PORT; 0, the default, picks a free port), --resource: a resource indicator
// (RFC 8707) the provider issues JWT access tokens for (repeatable; POST /admin/resources adds
// more later), --scope: a scope those resources accept (repeatable; default mcp:tools).
// Prints `listening http://127.0.0.1:PORT` when ready; exits when its standard input closes,
// so a test process that dies takes it along.
//
// What it offers, beyond the standard endpoints (discovery, JWKS, /auth, /token, /reg):
// - access tokens for the resources are JWTs with `aud` = the resource, `scope`, and `groups`
//   (users from USERS; service clients from SERVICE_GROUPS), signed with RS256, or with the
//   algorithm in the client's `access_token_signed_response_alg` (RS256, ES256 or EdDSA);
// - dynamic client registration (open), PKCE S256 required for every authorization request,
//   client credentials, and RFC 8693 token exchange (one log line per exchange);
// - a headless interaction: GET /interaction/UID?login=alice (or POST login=alice, or an
//   authorization request with login_hint=alice) logs the user in and consents to what was
//   asked, then redirects on like a browser would; ?deny=1 refuses instead;
// - /admin/rotate (POST): new signing keys with new kids, published first in the JWKS (the
//   old keys stay published unless ?retire=1); /admin/token (POST JSON): a JWT access token
//   signed with the current key, with any claims and TTL (negative: already expired);
//   /admin/resources (POST JSON {"resource": URI}): accept one more resource indicator.
//   No secret here guards anything real: the provider only ever listens on 127.0.0.1.

import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const ACCESS_TOKEN_TTL = 3600;

// The users the interaction can log in.
const USERS = {
  alice: { name: 'Alice', email: 'alice@example.test', groups: ['developers'] },
  bob: { name: 'Bob', email: 'bob@example.test', groups: ['sre'] },
};

// Pre-registered clients. `capstan-tests*` are the test side's own (client credentials, and
// authorization code + PKCE with a redirect nobody listens on); `capstan` is the resource
// server acting as a client in token exchange.
const REDIRECT_URI = 'http://127.0.0.1/callback';
const TEST_GRANTS = ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE];
const testClient = (clientId, alg) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  grant_types: TEST_GRANTS,
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'client_secret_basic',
  access_token_signed_response_alg: alg,
});
const CLIENTS = [
  testClient('capstan-tests', 'RS256'),
  testClient('capstan-tests-es256', 'ES256'),
  testClient('capstan-tests-eddsa', 'EdDSA'),
  {
    client_id: 'capstan',
    client_secret: 'capstan-secret',
    grant_types: ['client_credentials', TOKEN_EXCHANGE],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];
const SERVICE_GROUPS = Object.fromEntries(CLIENTS.map(({ client_id: id }) => [id, ['automation']]));

const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'groups'];

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.OIDC_PORT ?? '0' },
      resource: { type: 'string', multiple: true, default: [] },
      scope: { type: 'string', multiple: true, default: [] },
    },
  });
  const scopes = values.scope.length ? values.scope : ['mcp:tools'];
  return { port: Number(values.port), resources: new Set(values.resource), scopes };
}

// One private JWK per algorithm, with a fresh kid.
function generateKeys() {
  const pairs = {
    RS256: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    EdDSA: crypto.generateKeyPairSync('ed25519'),
  };
  return ALGORITHMS.map((alg) => ({
    ...pairs[alg].privateKey.export({ format: 'jwk' }),
    alg,
    use: 'sig',
    kid: `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`,
  }));
}

const publicJwk = ({ d, p, q, dp, dq, qi, ...rest }) => rest;

class TestProvider {
  constructor({ resources, scopes }) {
    this.resources = resources;
    this.scopes = scopes;
    this.keys = generateKeys();
    this.cookieKeys = [crypto.randomBytes(32).toString('hex')];
    this.issuer = undefined;
    this.provider = undefined;
  }

  // (Re)builds the provider with the current keys; state lives in the shared memory adapter,
  // so sessions, grants and registered clients survive a key rotation.
  build() {
    this.provider = new Provider(this.issuer, this.configuration());
    this.provider.on('server_error', (_ctx, error) => console.error('server_error', error));
    this.provider.registerGrantType(
      TOKEN_EXCHANGE,
      (ctx) => this.exchange(ctx),
      ['audience', 'resource', 'scope', 'subject_token', 'subject_token_type', 'requested_token_type'],
      ['audience', 'resource'],
    );
    this.handler = this.provider.callback();
  }

  configuration() {
    return {
      clients: CLIENTS,
      jwks: { keys: this.keys },
      findAccount: (_ctx, id) => account(id),
      claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
      scopes: [...OIDC_SCOPES, ...this.scopes],
      extraClientMetadata: {
        properties: ['access_token_signed_response_alg'],
        validator(_ctx, key, value) {
          if (key === 'access_token_signed_response_alg' && value !== undefined && !ALGORITHMS.includes(value)) {
            throw new errors.InvalidClientMetadata(`access_token_signed_response_alg must be one of ${ALGORITHMS.join(', ')}`);
          }
        },
      },
      extraTokenClaims: (_ctx, token) => tokenClaims(token),
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: true },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx, _client, oneOf) => oneOf,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource, client) => this.resourceServerInfo(resource, client),
        },
      },
      pkce: { required: () => true },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      ttl: {
        AccessToken: ACCESS_TOKEN_TTL,
        ClientCredentials: ACCESS_TOKEN_TTL,
        AuthorizationCode: 60,
        Grant: 3600,
        IdToken: 3600,
        Interaction: 600,
        RefreshToken: 86400,
        Session: 3600,
      },
      enabledJWA: {
        idTokenSigningAlgValues: ALGORITHMS,
      },
      cookies: { keys: this.cookieKeys },
      renderError: (ctx, out) => {
        ctx.type = 'json';
        ctx.body = out;
      },
    };
  }

  resourceServerInfo(resource, client) {
    if (!this.resources.has(resource)) {
      throw new errors.InvalidTarget(`this provider issues no tokens for ${resource}`);
    }
    const alg = client?.metadata().access_token_signed_response_alg ?? 'RS256';
    return {
      scope: this.scopes.join(' '),
      audience: resource,
      accessTokenTTL: ACCESS_TOKEN_TTL,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg } },
    };
  }

  publicKeys() {
    return jose.createLocalJWKSet({ keys: this.keys.map(publicJwk) });
  }

  // RFC 8693: a valid access token this provider issued, for a new audience, acted on by the
  // authenticated client.
  async exchange(ctx) {
    const { client, params } = ctx.oidc;
    if (client.clientAuthMethod === 'none') {
      throw new errors.InvalidClient('token exchange needs an authenticated client');
    }
    if (![ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE].includes(params.subject_token_type)) {
      throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    if (!params.subject_token) {
      throw new errors.InvalidRequest('missing subject_token');
    }
    let subject;
    try {
      ({ payload: subject } = await jose.jwtVerify(params.subject_token, this.publicKeys(), {
        issuer: this.issuer,
        typ: 'at+jwt',
        algorithms: ALGORITHMS,
      }));
    } catch (error) {
      console.log(`token-exchange refused client=${client.clientId} reason=${error.code ?? 'invalid'}`);
      throw new errors.InvalidGrant(`subject_token is not a valid access token of this issuer (${error.code ?? 'invalid'})`);
    }
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    // The new token's `aud` is the audience if one was asked for, else the resource; each one
    // given must be a resource this provider issues tokens for.
    const resource = single(params.resource);
    const audience = single(params.audience);
    if (!resource && !audience) {
      throw new errors.InvalidRequest('resource or audience is required');
    }
    const target = audience ?? resource;
    if (resource) this.resourceServerInfo(resource, client);
    const resourceServer = new this.provider.ResourceServer(target, this.resourceServerInfo(target, client));
    const offered = new Set((subject.scope ?? '').split(' ').filter(Boolean));
    const accepted = resourceServer.scopes;
    const wanted = params.scope ? params.scope.split(' ') : [...offered];
    const scope = wanted.filter((s) => offered.has(s) && accepted.has(s)).join(' ') || undefined;
    const act = { sub: client.clientId, ...(subject.act ? { act: subject.act } : {}) };
    const token = new this.provider.AccessToken({
      accountId: subject.sub,
      client,
      scope,
      resourceServer,
      extra: { groups: subject.groups ?? [], act },
    });
    const value = await token.save();
    console.log(`token-exchange client=${client.clientId} sub=${subject.sub} audience=${target} scope=${scope ?? ''}`);
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiration,
      ...(scope ? { scope } : {}),
    };
  }

  // The headless interaction: completes login and consent for the named user.
  async interaction(req, res, url) {
    const form = req.method === 'POST' ? new URLSearchParams(await body(req)) : new URLSearchParams();
    const details = await this.provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (url.searchParams.has('deny') || form.has('deny')) {
      return this.provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'the user refused',
      }, { mergeWithLastSubmission: false });
    }
    const user = url.searchParams.get('login') ?? form.get('login') ?? params.login_hint ?? session?.accountId;
    if (!user || !USERS[user]) {
      return send(res, 400, { error: 'unknown_user', error_description: `log in with ?login=NAME, NAME one of ${Object.keys(USERS).join(', ')}` });
    }
    const result = {};
    if (prompt.name === 'login' || session?.accountId !== user) {
      result.login = { accountId: user };
    }
    const grant = details.grantId && session?.accountId === user
      ? await this.provider.Grant.find(details.grantId)
      : new this.provider.Grant({ accountId: user, clientId: params.client_id });
    const requested = (params.scope ?? '').split(' ').filter(Boolean);
    // The resource scopes are advertised in scopes_supported too (clients pick scopes from
    // there), which makes them OpenID scopes as well as the resources' scopes: grant both.
    grant.addOIDCScope(requested.join(' ') || 'openid');
    const resourceScopes = requested.filter((s) => !OIDC_SCOPES.includes(s)).join(' ');
    for (const resource of [params.resource ?? []].flat()) {
      if (resourceScopes) grant.addResourceScope(resource, resourceScopes);
    }
    result.consent = { grantId: await grant.save() };
    console.log(`interaction user=${user} client=${params.client_id} prompt=${prompt.name} reasons=${prompt.reasons}`);
    return this.provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  async admin(req, res, url) {
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
    const input = JSON.parse((await body(req)) || '{}');
    switch (url.pathname) {
      case '/admin/rotate': {
        const fresh = generateKeys();
        this.keys = url.searchParams.has('retire') ? fresh : [...fresh, ...this.keys];
        this.build();
        console.log(`rotated signing keys; now signing with ${fresh.map((k) => k.kid).join(', ')}`);
        return send(res, 200, { kids: fresh.map((k) => k.kid) });
      }
      case '/admin/resources':
        this.resources.add(input.resource);
        return send(res, 200, { resources: [...this.resources] });
      case '/admin/token':
        return send(res, 200, { access_token: await this.mint(input) });
      default:
        return send(res, 404, { error: 'no such admin endpoint' });
    }
  }

  // A JWT access token shaped like the ones the token endpoint issues, with whatever the test
  // asks for: { sub, aud, scope, groups, ttl, alg, client_id, claims }.
  async mint({ sub = 'alice', aud, scope = this.scopes.join(' '), groups, ttl = ACCESS_TOKEN_TTL, alg = 'RS256', client_id: clientId = 'capstan-tests', claims = {} }) {
    const jwk = this.keys.find((k) => k.alg === alg);
    if (!jwk) throw new Error(`no key for ${alg}`);
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: this.issuer,
      sub,
      aud: aud ?? [...this.resources][0],
      iat: now,
      exp: now + ttl,
      jti: crypto.randomUUID(),
      client_id: clientId,
      scope,
      groups: groups ?? USERS[sub]?.groups ?? [],
      ...claims,
    };
    const key = await jose.importJWK(jwk, alg);
    return new jose.SignJWT(payload).setProtectedHeader({ alg, kid: jwk.kid, typ: 'at+jwt' }).sign(key);
  }

  async serve(req, res) {
    const url = new URL(req.url, this.issuer);
    try {
      if (url.pathname.startsWith('/interaction/')) return await this.interaction(req, res, url);
      if (url.pathname.startsWith('/admin/')) return await this.admin(req, res, url);
      return this.handler(req, res);
    } catch (error) {
      console.error(`${req.method} ${url.pathname}: ${error.message}`);
      return send(res, 400, { error: 'bad_request', error_description: error.message });
    }
  }
}

function account(id) {
  const user = USERS[id];
  if (!user) return undefined;
  return {
    accountId: id,
    claims: () => ({ sub: id, name: user.name, email: user.email, groups: user.groups }),
  };
}

// Claims added to every access token: `groups`, from the user or the service client (a token
// exchange passes on the subject token's groups and names the actor).
function tokenClaims(token) {
  const extra = { ...token.extra };
  if (!('groups' in extra)) {
    const groups = USERS[token.accountId]?.groups ?? (token.accountId ? undefined : SERVICE_GROUPS[token.clientId]);
    if (groups) extra.groups = groups;
  }
  return extra;
}

function single(value) {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new errors.InvalidTarget('only one resource or audience per exchange');
    return value[0];
  }
  return value || undefined;
}

function body(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, json) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(json));
}

async function main() {
  const opts = options();
  const provider = new TestProvider(opts);
  const server = http.createServer((req, res) => provider.serve(req, res));
  await new Promise((resolve) => server.listen(opts.port, '127.0.0.1', resolve));
  provider.issuer = `http://127.0.0.1:${server.address().port}`;
  provider.build();
  if (!process.stdin.isTTY) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('close', () => process.exit(0));
    process.stdin.resume();
  }
  console.log(`listening ${provider.issuer}`);
}

await main();
