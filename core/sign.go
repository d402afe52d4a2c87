package core

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sign asks the driver to sign Input with the private key named Key and
// answer with [Signed]. The core never holds a key: it builds what is
// signed (a JWS signing input, RFC 7515 §5.1) and the driver, which keeps
// the key (a file natively, a non-extractable WebCrypto key in a browser),
// returns the signature. Alg is the JWS algorithm the input's header
// names; a driver whose key cannot make it refuses rather than sign with
// another. Client assertions (RFC 7523) and DPoP proofs (RFC 9449, see
// dpop.go) use it.
type Sign struct {
	Key   string
	Alg   string
	Input []byte
}

// Signed answers [Sign]: the JWS signature of the input (for ES256 the
// 64-byte R||S of RFC 7518 §3.4, for RS256 the PKCS #1 v1.5 signature), or
// Err.
type Signed struct {
	Signature []byte
	Err       error
}

func (Sign) effect()  {}
func (Signed) event() {}

// JWS algorithms the drivers sign with.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
)

// AssertionLifetime is how long a client assertion is valid: long enough
// for one request, short enough that a captured one is soon useless (S34).
const AssertionLifetime = 2 * time.Minute

// AssertionClaims are the claims of a client assertion (RFC 7523 §3): the
// client is issuer and subject, the token endpoint the audience, with a
// fresh jti and a short lifetime (S34).
type AssertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	JWTID    string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// NewAssertionClaims returns the claims of a client assertion for clientID
// at tokenURL, made at now, with a jti of 16 bytes from rand.
func NewAssertionClaims(clientID, tokenURL string, now time.Time, rand io.Reader) (AssertionClaims, error) {
	if rand == nil {
		return AssertionClaims{}, errors.New("client assertion: no entropy for its jti")
	}
	jti, err := randomString(rand, 16)
	if err != nil {
		return AssertionClaims{}, fmt.Errorf("client assertion: %w", err)
	}
	return AssertionClaims{
		Issuer: clientID, Subject: clientID, Audience: tokenURL, JWTID: jti,
		IssuedAt: now.Unix(), Expiry: now.Add(AssertionLifetime).Unix(),
	}, nil
}

// SigningInput is the JWS Compact Serialization's first two parts for a
// header (alg, typ and any extra fields) and claims: what [Sign] signs.
func SigningInput(alg, typ string, extra map[string]any, claims any) ([]byte, error) {
	h := map[string]any{"alg": alg, "typ": typ}
	for k, v := range extra {
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	return []byte(enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)), nil
}

// CompactJWS joins a signing input and its signature into a JWS.
func CompactJWS(input, signature []byte) string {
	return string(input) + "." + base64.RawURLEncoding.EncodeToString(signature)
}

// randomString is n bytes from r, base64url without padding.
func randomString(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("reading entropy: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
