package core

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Claims are the ID token claims dualauth checks, plus all of them raw.
type Claims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience audience        `json:"aud"`
	Nonce    string          `json:"nonce"`
	Expiry   int64           `json:"exp"`
	Email    string          `json:"email"`
	Name     string          `json:"name"`
	Raw      json.RawMessage `json:"-"`
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	err := json.Unmarshal(b, &many)
	*a = many
	return err
}

// DecodeJWT returns the claims of a compact JWS without verifying its
// signature. That is enough for an ID token received straight from the
// token endpoint over TLS (OpenID Connect Core §3.1.3.7, item 6) and for
// showing a token's claims; it is not a way to trust a token from elsewhere.
func DecodeJWT(raw string) (*Claims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("JWT payload is not base64url")
	}
	var c Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("JWT payload is not a JSON object")
	}
	c.Raw = b
	return &c, nil
}

// checkIDToken checks the claims that tie an ID token to this login: nonce
// (S7) when one was sent (nonce != ""), issuer and audience always.
func checkIDToken(raw, nonce, issuer, clientID string) error {
	c, err := DecodeJWT(raw)
	if err != nil {
		return fmt.Errorf("id_token: %w", err)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return ErrNonceMismatch
	}
	if c.Issuer != issuer {
		return fmt.Errorf("%w: id_token issued by %s, want %s", ErrIssuerMismatch, Sanitize(c.Issuer), issuer) // claims are server text (S37)
	}
	if !slices.Contains(c.Audience, clientID) {
		return fmt.Errorf("id_token audience %s does not include client %s", Sanitize(strings.Join(c.Audience, " ")), clientID)
	}
	return nil
}
