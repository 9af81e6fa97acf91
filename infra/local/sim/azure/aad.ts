/**
 * The Microsoft Entra ID (AAD) endpoints a service-principal client needs: the tenant's OpenID
 * metadata, instance discovery (MSAL asks for it unless disableInstanceDiscovery is set), and the v2
 * token endpoint with the client-credentials grant. Tokens are opaque to clients and signed with
 * the simulator's secret, so ARM can check them without a table and they survive a restart.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { armError } from './errors';

export interface AadConfig {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  secret: string;
  now(): number;
  tokenLifetimeSeconds: number;
}

export interface AadResponse {
  status: number;
  body: unknown;
}

function sign(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(`token\n${payload}`).digest('base64url');
}

export function issueToken(cfg: AadConfig): string {
  const payload = Buffer.from(
    JSON.stringify({
      tid: cfg.tenantId,
      appid: cfg.clientId,
      exp: cfg.now() + cfg.tokenLifetimeSeconds * 1000,
    }),
  ).toString('base64url');
  return `${payload}.${sign(cfg.secret, payload)}`;
}

/** Checks an ARM request's Authorization header; throws ARM's 401 answers. */
export function checkBearer(cfg: AadConfig, header: string | undefined): void {
  const challenge = {
    'WWW-Authenticate': `Bearer authorization_uri="${cfg.url}/${cfg.tenantId}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`,
  };
  if (!header)
    throw armError(
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
      401,
      challenge,
    );
  const m = /^Bearer (\S+)$/i.exec(header);
  if (!m?.[1])
    throw armError(
      'InvalidAuthenticationToken',
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      401,
    );
  const [payload, sig] = m[1].split('.');
  const expected = payload ? Buffer.from(sign(cfg.secret, payload)) : Buffer.alloc(0);
  const given = Buffer.from(sig ?? '');
  if (!payload || expected.length !== given.length || !timingSafeEqual(expected, given))
    throw armError('InvalidAuthenticationToken', 'The access token is invalid.', 401);
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
    exp: number;
    tid: string;
  };
  if (claims.exp <= cfg.now())
    throw armError(
      'ExpiredAuthenticationToken',
      'The access token expiry UTC time is earlier than current UTC time.',
      401,
    );
  if (claims.tid !== cfg.tenantId)
    throw armError(
      'InvalidAuthenticationTokenTenant',
      `The access token is from the wrong issuer. It must match the tenant '${cfg.tenantId}' associated with this subscription.`,
      401,
    );
}

const aadError = (status: number, error: string, code: string, description: string): AadResponse => ({
  status,
  body: {
    error,
    error_description: `${code}: ${description}`,
    error_codes: [Number(code.replace('AADSTS', ''))],
    timestamp: new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z'),
  },
});

/** Answers an AAD request; undefined when the path is not an AAD endpoint. */
export function handleAad(
  cfg: AadConfig,
  method: string,
  segments: string[],
  form: URLSearchParams,
): AadResponse | undefined {
  const [tenant, a, b, c] = segments;
  if (!tenant) return undefined;
  if (tenant === 'common' && a === 'discovery' && b === 'instance' && method === 'GET') {
    const host = new URL(cfg.url).host;
    return {
      status: 200,
      body: {
        tenant_discovery_endpoint: `${cfg.url}/${cfg.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  }
  const known = tenant === cfg.tenantId || tenant === 'organizations' || tenant === 'common';
  if (a === 'v2.0' && b === '.well-known' && c === 'openid-configuration' && method === 'GET') {
    if (!known) return aadError(400, 'invalid_tenant', 'AADSTS90002', `Tenant '${tenant}' not found.`);
    const base = `${cfg.url}/${cfg.tenantId}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'burstgate.sim',
      },
    };
  }
  if (a === 'oauth2' && b === 'v2.0' && c === 'token' && method === 'POST') {
    if (tenant !== cfg.tenantId)
      return aadError(400, 'invalid_tenant', 'AADSTS90002', `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials')
      return aadError(
        400,
        'unsupported_grant_type',
        'AADSTS70003',
        'The app requested an unsupported grant type.',
      );
    if (form.get('client_id') !== cfg.clientId)
      return aadError(
        400,
        'unauthorized_client',
        'AADSTS700016',
        `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory '${cfg.tenantId}'.`,
      );
    if (form.get('client_secret') !== cfg.clientSecret)
      return aadError(
        401,
        'invalid_client',
        'AADSTS7000215',
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${cfg.clientId}'.`,
      );
    if (!form.get('scope')?.endsWith('/.default'))
      return aadError(
        400,
        'invalid_scope',
        'AADSTS1002012',
        'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
      );
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: cfg.tokenLifetimeSeconds,
        ext_expires_in: cfg.tokenLifetimeSeconds,
        access_token: issueToken(cfg),
      },
    };
  }
  return undefined;
}
