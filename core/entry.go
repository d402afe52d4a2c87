package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultSkew is how long before its expiry a token counts as expired: a
// token handed out is good for at least a minute, long enough for the call
// it was asked for. See [Entry.Valid] for tokens that live shorter than that.
const DefaultSkew = time.Minute

// Entry is what a login leaves in the cache, per (issuer, client ID): the
// tokens, and the metadata that lets a refresh skip discovery. Its JSON field
// names for the token are those of the Databricks CLI cache.
type Entry struct {
	Host         string   `json:"host"`
	AccountID    string   `json:"account_id,omitempty"`
	ClientID     string   `json:"client_id"`
	Scopes       []string `json:"scopes,omitempty"`
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type,omitempty"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	// RefreshTokenIn says where a store keeps the refresh token when it is
	// not in this entry: "" means here; "keyring" means the OS keyring
	// (native), which fills RefreshToken only for the lock holder. The
	// machines never read it; stores set it on save.
	RefreshTokenIn string    `json:"refresh_token_in,omitempty"`
	IDToken        string    `json:"id_token,omitempty"`
	Expiry         time.Time `json:"expiry,omitzero"`
	ObtainedAt     time.Time `json:"obtained_at,omitzero"`
	Metadata       Metadata  `json:"metadata"`
	// Grant is set for a login without a person: the token machine repeats
	// it when the token expires (there is no refresh token).
	Grant *Grant `json:"grant,omitempty"`
	// ClientSecret is the secret of such a login's client. Like
	// RefreshToken with RefreshTokenIn, a store may keep it elsewhere
	// (ClientSecretIn: "keyring" or "file") and fill it only for the lock
	// holder; the machines never read ClientSecretIn.
	ClientSecret   string `json:"client_secret,omitempty"`
	ClientSecretIn string `json:"client_secret_in,omitempty"`
	// Resource is the RFC 8707 resource the tokens are for ("" for none):
	// sent again on every refresh, and the login's cache key.
	Resource string `json:"resource,omitempty"`
	// Resolution is what the login found out about Host (kind, issuer,
	// client, resource, and where each came from), for describe.
	Resolution *Resolution `json:"resolution,omitempty"`
	// Registration, on a registration record (not a login), is the client
	// dualauth registered at the issuer; RefreshToken then holds its
	// registration_access_token, so that stores protect it alike (S32).
	Registration *Registration `json:"registration,omitempty"`
	// DPoP is the key the tokens are bound to (RFC 9449), nil for a
	// bearer login; TokenType is then "DPoP".
	DPoP *DPoPKey `json:"dpop,omitempty"`
}

// newEntry is the cache entry of a fresh login (browser or device): the
// token response received at now, and the metadata that found it.
func newEntry(t Target, clientID string, asked []string, tr *TokenResponse, now time.Time, m Metadata) Entry {
	scopes := asked
	if tr.Scope != "" { // the server says what it granted (RFC 6749 §5.1)
		scopes = strings.Fields(tr.Scope)
	}
	return Entry{
		Host: t.Host, AccountID: t.AccountID, ClientID: clientID, Scopes: scopes,
		AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken, IDToken: tr.IDToken,
		Expiry: tr.Expiry, ObtainedAt: now, Metadata: m,
	}
}

// resolvedBy records the resolution of e's login (a copy) in e, and the
// RFC 8707 resource it names, which the entry is kept under.
func (e *Entry) resolvedBy(res *Resolution) {
	if res != nil {
		cp := *res
		e.Resolution, e.Resource = &cp, cp.Resource
	}
}

// registeredClient reports whether e's client is one dualauth registered
// (RFC 7591) rather than one the user named.
func (e *Entry) registeredClient() bool {
	return e.Resolution != nil && e.Resolution.ClientRegistered
}

// Key is the cache key of a login: issuer and client ID, so two clients of
// one server never share tokens.
func Key(issuer, clientID string) string {
	return strings.TrimSuffix(issuer, "/") + " " + clientID
}

// Key returns the entry's cache key: issuer and client — or, for a login to
// a protected resource, resource and client (a second resource on the same
// issuer is a second login). When the issuer is not one that [IssuerKeys]
// tries for the host the user typed (Databricks host metadata named an
// issuer elsewhere), the host takes its place, so that `auth token HOST`
// finds the login offline.
func (e *Entry) Key() string {
	if e.Registration != nil {
		if e.Registration.Device() {
			return DeviceRegistrationKey(e.Metadata.Issuer)
		}
		return RegistrationKey(e.Metadata.Issuer)
	}
	if e.Resource != "" {
		return Key(e.Resource, e.ClientID)
	}
	k := Key(e.Metadata.Issuer, e.ClientID)
	if e.Resolution == nil || e.Host == "" || slices.Contains(IssuerKeys(Target{Host: e.Host, AccountID: e.AccountID}, e.ClientID), k) {
		return k
	}
	return Key(e.Host, e.ClientID)
}

// Valid reports whether the access token can still be handed out at now.
// It counts as expired skew early (S23); a token whose whole lifetime is
// shorter than twice the skew uses half its lifetime as the skew instead, so
// a short-lived token is used for half its life rather than refreshed on
// every call. A token without an expiry is valid.
func (e *Entry) Valid(now time.Time, skew time.Duration) bool {
	if e == nil || e.AccessToken == "" {
		return false
	}
	if e.Expiry.IsZero() {
		return true
	}
	if !e.ObtainedAt.IsZero() {
		if life := e.Expiry.Sub(e.ObtainedAt); life > 0 && skew > life/2 {
			skew = life / 2
		}
	}
	return now.Add(skew).Before(e.Expiry)
}

// BoundToKey reports whether the access token is bound to the login's DPoP
// key: what decides is the token type the server answered, not the key
// alone (a server may answer proofs with a Bearer token, RFC 9449 §5; the
// key is kept for the refreshes, which stay bound).
func (e *Entry) BoundToKey() bool {
	return e.DPoP != nil && strings.EqualFold(e.TokenType, "DPoP")
}

// Token returns the access token as a [Token] (an *oauth2.Token outside
// the browser), without the refresh token: callers get what they may send,
// nothing more.
func (e *Entry) Token() *Token {
	return &Token{AccessToken: e.AccessToken, TokenType: e.TokenType, Expiry: e.Expiry}
}

// CacheVersion is the version of the cache file format.
const CacheVersion = 1

// CacheFile is the on-disk (or in-storage) form of a token cache:
// {"version":1,"tokens":{KEY: Entry}}.
type CacheFile struct {
	Version int              `json:"version"`
	Tokens  map[string]Entry `json:"tokens"`
}

// NewerCacheError is a cache file written by a newer dualauth (its version
// is above [CacheVersion]): it is not corrupt, and must be left as it is.
type NewerCacheError struct{ Version int }

func (e *NewerCacheError) Error() string {
	return fmt.Sprintf("token cache has version %d, written by a newer dualauth (this one reads version %d): upgrade dualauth, or use another --cache-dir", e.Version, CacheVersion)
}

var errCacheNotJSON = errors.New("token cache is not valid JSON")

// DecodeCacheFile parses a cache file. An empty input is an empty cache. A
// version above [CacheVersion] is a [*NewerCacheError], which drivers leave
// alone; malformed JSON or another version is an error, which the driver
// turns into "move the file aside and warn" (S24).
func DecodeCacheFile(b []byte) (*CacheFile, error) {
	c := &CacheFile{Version: CacheVersion, Tokens: map[string]Entry{}}
	if len(bytes.TrimSpace(b)) == 0 { // no copy of the file
		return c, nil
	}
	if !json.Valid(b) {
		return nil, errCacheNotJSON
	}
	r := &jsonReader{b: b}
	c.read(r) // without reflection: see cachejson.go
	if r.err != nil {
		return nil, errCacheNotJSON
	}
	return c.checked()
}

// checked is the decoded c if this dualauth reads its version.
func (c *CacheFile) checked() (*CacheFile, error) {
	if c.Version > CacheVersion {
		return nil, &NewerCacheError{Version: c.Version}
	}
	if c.Version != CacheVersion {
		return nil, fmt.Errorf("token cache has version %d; this dualauth reads version %d", c.Version, CacheVersion)
	}
	if c.Tokens == nil {
		c.Tokens = map[string]Entry{}
	}
	return c, nil
}

// Encode renders the cache file, indented for people who look.
func (c *CacheFile) Encode() []byte {
	b, _ := json.MarshalIndent(c, "", "  ") // cannot fail: plain data
	return append(b, '\n')
}
