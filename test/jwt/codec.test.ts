import {strict as assert} from 'node:assert'
import {createHmac} from 'node:crypto'

import {Settings} from '../../src/env/settings.js'
import {McpAuthError} from '../../src/errors.js'
import {JwtProblem, decodeJwt, looksLikeJwt, signJwt, verifyJwt} from '../../src/jwt/codec.js'
import {gatewayIssuer, gatewaySigningKey, gatewayVerificationKey} from '../../src/jwt/gateway-keys.js'
import {publicJwk} from '../../src/jwt/keys.js'
import {
  BASE_DOMAIN,
  HS256_SECRET,
  ISSUER,
  decodeSegment,
  gatewayClaims,
  handSignedHs256,
  handSignedRs256,
  nowSeconds,
  opensslVerifiesRs256,
  rsaKeyPair,
  unsignedToken,
} from '../support/jwt-fixtures.js'
import {startJwksServer} from '../support/loopback-http.js'

const gatewayKeys = rsaKeyPair()
const otherKeys = rsaKeyPair()

function settings(values: Record<string, string>): Settings {
  return new Settings('.env', true, new Map(Object.entries(values)), {})
}

const rs256 = settings({BASE_DOMAIN, JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY_B64: gatewayKeys.privateKeyB64})
const hs256 = settings({BASE_DOMAIN, JWT_ALGORITHM: 'HS256', GATEWAY_JWT_SECRET: HS256_SECRET})

async function reasonFor(token: string, config: Settings = rs256, clockToleranceSeconds = 0): Promise<string> {
  try {
    await verifyJwt(token, await gatewayVerificationKey(config), {clockToleranceSeconds})
  } catch (error) {
    if (error instanceof JwtProblem) return error.reason
    throw error
  }
  return 'accepted'
}

describe('src/jwt: verifying like the gateway', () => {
  it('accepts an RS256 token signed by hand with node:crypto', async () => {
    const claims = gatewayClaims()
    const decoded = await verifyJwt(handSignedRs256(claims, gatewayKeys.privateKey), await gatewayVerificationKey(rs256))
    assert.deepEqual(decoded.claims, claims)
  })

  it('accepts an HS256 token signed by hand with an HMAC', async () => {
    assert.equal(await reasonFor(handSignedHs256(gatewayClaims(), HS256_SECRET), hs256), 'accepted')
  })

  it('refuses a token signed with another RSA key', async () => {
    assert.equal(await reasonFor(handSignedRs256(gatewayClaims(), otherKeys.privateKey)), 'signature does not match JWT_PRIVATE_KEY_B64')
  })

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = handSignedRs256(gatewayClaims(), gatewayKeys.privateKey).split('.')
    const forged = Buffer.from(JSON.stringify(gatewayClaims({username: 'mallory'}))).toString('base64url')
    assert.equal(await reasonFor(`${header}.${forged}.${signature}`), 'signature does not match JWT_PRIVATE_KEY_B64')
  })

  it('refuses alg none, with or without a signature segment', async () => {
    assert.match(await reasonFor(unsignedToken(gatewayClaims())), /alg is "none"/)
    assert.match(await reasonFor(`${unsignedToken(gatewayClaims())}c2ln`), /alg is "none"/)
  })

  it('refuses an HS256 token made with the RSA public key as secret (algorithm confusion)', async () => {
    const confused = handSignedHs256(gatewayClaims(), gatewayKeys.publicKeyPem)
    assert.equal(await reasonFor(confused), 'signed with HS256, but the gateway uses RS256: refused')
  })

  it('refuses an RS256 token when the gateway is configured for HS256', async () => {
    assert.match(await reasonFor(handSignedRs256(gatewayClaims(), gatewayKeys.privateKey), hs256), /signed with RS256, but the gateway uses HS256/)
  })

  it('refuses an expired token, and accepts it within --clock-tolerance', async () => {
    const token = handSignedRs256(gatewayClaims({exp: nowSeconds() - 60}), gatewayKeys.privateKey)
    assert.match(await reasonFor(token), /^expired 1m( [0-9]s)? ago \(/)
    assert.equal(await reasonFor(token, rs256, 120), 'accepted')
  })

  it('refuses another issuer and a token without jti or exp', async () => {
    assert.equal(
      await reasonFor(handSignedRs256(gatewayClaims({iss: 'https://auth.other.test'}), gatewayKeys.privateKey)),
      `iss is "https://auth.other.test", expected "${ISSUER}"`,
    )
    assert.equal(await reasonFor(handSignedRs256(gatewayClaims({jti: undefined}), gatewayKeys.privateKey)), 'no jti claim')
    assert.equal(await reasonFor(handSignedRs256(gatewayClaims({exp: undefined}), gatewayKeys.privateKey)), 'no exp claim')
  })

  it('uses GATEWAY_AUTH_URL as the issuer when set', async () => {
    const custom = settings({GATEWAY_AUTH_URL: 'http://127.0.0.1:8080/', JWT_PRIVATE_KEY_B64: gatewayKeys.privateKeyB64})
    assert.equal(gatewayIssuer(custom), 'http://127.0.0.1:8080')
    assert.equal(await reasonFor(handSignedRs256(gatewayClaims({iss: 'http://127.0.0.1:8080'}), gatewayKeys.privateKey), custom), 'accepted')
  })

  it("verifies with the gateway's JWKS (kid in the JWKS, none in the token)", async () => {
    const server = await startJwksServer({keys: [{...publicJwk(gatewayKeys.privateKey), kid: 'blessed-key-1'}]})
    try {
      const key = await gatewayVerificationKey(settings({BASE_DOMAIN}), {jwksUrl: `${server.url}/jwks`})
      await verifyJwt(handSignedRs256(gatewayClaims(), gatewayKeys.privateKey), key)
      await assert.rejects(verifyJwt(handSignedRs256(gatewayClaims(), otherKeys.privateKey), key), {reason: `signature does not match ${server.url}/jwks`})
      assert.deepEqual(server.requests, ['GET /jwks'])
    } finally {
      await server.close()
    }
  })

  it('refuses a JWKS over plain http off loopback, and says so when a JWKS cannot be reached', async () => {
    await assert.rejects(gatewayVerificationKey(settings({BASE_DOMAIN}), {jwksUrl: 'http://auth.gateway.test/jwks'}), {exitCode: 2, message: /must use https/})
    const server = await startJwksServer({keys: []})
    await server.close()
    const key = await gatewayVerificationKey(settings({BASE_DOMAIN}), {jwksUrl: `${server.url}/jwks`})
    await assert.rejects(verifyJwt(handSignedRs256(gatewayClaims(), gatewayKeys.privateKey), key), (error: unknown) => {
      assert.ok(error instanceof McpAuthError)
      assert.equal(error.exitCode, 4)
      assert.match(error.message, /Cannot fetch the JWKS at http:\/\/127\.0\.0\.1:\d+\/jwks: nothing accepts connections at that address \(ECONNREFUSED\)/)
      return true
    })
  })
})

describe('src/jwt: decoding without verifying', () => {
  const good = handSignedRs256(gatewayClaims(), gatewayKeys.privateKey)
  const reason = (token: string): string => {
    try {
      decodeJwt(token)
    } catch (error) {
      return (error as JwtProblem).reason
    }
    return 'decoded'
  }

  it('names the segment that is not base64url', () => {
    const [header, payload, signature] = good.split('.')
    assert.equal(reason(`${header}*.${payload}.${signature}`), 'header segment is not valid base64url')
    assert.equal(reason(`${header}.${payload}+/.${signature}`), 'payload segment is not valid base64url')
    assert.equal(reason(`${header}.${payload}.${signature}=`), 'signature segment is not valid base64url')
  })

  it('says when a segment is not JSON, or the token is not three segments', () => {
    const [, payload, signature] = good.split('.')
    assert.equal(reason(`${Buffer.from('not json').toString('base64url')}.${payload}.${signature}`), 'header is not JSON')
    assert.equal(reason(good.split('.').slice(0, 2).join('.')), 'has 2 segments; a JWT has 3 (header.payload.signature)')
    assert.equal(reason(`${good}\n`), 'contains whitespace (a line break or a space pasted with it?)')
  })

  it('tells JWTs from secrets by the header, not by the name', () => {
    assert.equal(looksLikeJwt(good), true)
    assert.equal(looksLikeJwt(HS256_SECRET), false)
    assert.equal(looksLikeJwt(gatewayKeys.privateKeyB64), false)
    assert.equal(looksLikeJwt('abc.def.ghi'), false)
  })
})

describe('src/jwt: signing like the gateway', () => {
  it('signs RS256 that openssl verifies, with a header of alg and typ only (no kid)', async () => {
    const claims = gatewayClaims()
    const token = await signJwt(claims, gatewaySigningKey(rs256))
    assert.equal(await opensslVerifiesRs256(token, gatewayKeys.publicKeyPem), true)
    assert.equal(await opensslVerifiesRs256(token, otherKeys.publicKeyPem), false)
    assert.deepEqual(decodeSegment(token, 0), {alg: 'RS256', typ: 'JWT'})
    assert.deepEqual(Object.keys(decodeSegment(token, 1)), Object.keys(claims))
  })

  it('signs HS256 that a hand-made HMAC confirms', async () => {
    const token = await signJwt(gatewayClaims(), gatewaySigningKey(hs256))
    const [header, payload, signature] = token.split('.')
    assert.equal(signature, createHmac('sha256', HS256_SECRET).update(`${header}.${payload}`).digest('base64url'))
  })

  it('says exactly what is wrong with an unusable key, under the name it was read from (exit 4)', () => {
    const truncated = gatewayKeys.privateKeyB64.slice(0, 400)
    assert.throws(() => gatewaySigningKey(settings({OAUTH_JWT_PRIVATE_KEY_B64: truncated})), {
      exitCode: 4,
      message: /^OAUTH_JWT_PRIVATE_KEY_B64 cannot be used: /,
    })
    assert.throws(() => gatewaySigningKey(settings({JWT_PRIVATE_KEY_B64: 'not base64 at all!'})), {
      exitCode: 4,
      message: 'JWT_PRIVATE_KEY_B64 cannot be used: not valid base64.',
    })
    assert.throws(() => gatewaySigningKey(settings({JWT_ALGORITHM: 'HS256', GATEWAY_JWT_SECRET: 'your_jwt_secret_here'})), {
      exitCode: 4,
      message: /GATEWAY_JWT_SECRET is not set/,
    })
    assert.throws(() => gatewaySigningKey(settings({JWT_ALGORITHM: 'ES256'})), {exitCode: 2, message: /RS256 or HS256/})
  })
})
