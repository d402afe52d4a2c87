package core

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The cache file is read on the path every `auth token` takes, in a
// process that lives for a few milliseconds: encoding/json's first decode of
// the entry types (reflection over some 80 fields, never used again in that
// process) cost more than the rest of the command. So the file is read here
// without reflection, into the same types and with the same result as
// json.Unmarshal — the same values for every valid document, and an error
// for the same documents — which FuzzDecodeCacheFile checks against
// encoding/json itself. The file is still written with encoding/json.
//
// The reader runs only after json.Valid has accepted the whole document, so
// it never meets a syntax error; what it checks is that each value has the
// type its field wants.

// jsonReader reads one valid JSON document.
type jsonReader struct {
	b   []byte
	i   int
	err error // the first value of the wrong type; reading goes on
}

var errCacheType = errors.New("a value of the wrong type")

// fail records a value of the wrong type and passes over it.
func (r *jsonReader) fail() {
	if r.err == nil {
		r.err = errCacheType
	}
	r.skip()
}

// peek is the first byte of the next value.
func (r *jsonReader) peek() byte {
	for {
		switch c := r.b[r.i]; c {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return c
		}
	}
}

// stringEnd is the index after the closing quote of the string at i.
func (r *jsonReader) stringEnd(i int) int {
	for i++; ; i++ {
		switch r.b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skip passes over the next value and returns its bytes.
func (r *jsonReader) skip() []byte {
	r.peek()
	start, depth := r.i, 0
	for {
		switch r.b[r.i] {
		case '"':
			r.i = r.stringEnd(r.i)
		case '{', '[':
			depth++
			r.i++
		case '}', ']':
			depth--
			r.i++
		default:
			r.i++
			if depth == 0 { // a number, true, false or null
				for r.i < len(r.b) && !strings.ContainsRune(" \t\n\r,]}", rune(r.b[r.i])) {
					r.i++
				}
			}
		}
		if depth == 0 {
			return r.b[start:r.i]
		}
	}
}

// null passes over a null and reports whether there was one.
func (r *jsonReader) null() bool {
	if r.peek() != 'n' {
		return false
	}
	r.skip()
	return true
}

// object reads an object, handing each key to field, which reads its value
// and reports true, or reports false and the value is skipped. null leaves
// the value as it was, as json.Unmarshal does for a struct.
func (r *jsonReader) object(field func(key string) bool) {
	if r.null() {
		return
	}
	if r.peek() != '{' {
		r.fail()
		return
	}
	r.i++
	for {
		switch r.peek() {
		case '}':
			r.i++
			return
		case ',':
			r.i++
			r.peek()
		}
		key := r.quoted()
		r.peek()
		r.i++ // the colon
		if !field(key) {
			r.skip()
		}
	}
}

// quoted reads the string at r.i.
func (r *jsonReader) quoted() string {
	end := r.stringEnd(r.i)
	s := unquoteJSON(r.b[r.i+1 : end-1])
	r.i = end
	return s
}

func (r *jsonReader) str(p *string) {
	switch r.peek() {
	case '"':
		*p = r.quoted()
	case 'n':
		r.skip()
	default:
		r.fail()
	}
}

func (r *jsonReader) boolean(p *bool) {
	switch r.peek() {
	case 't', 'f':
		*p = r.skip()[0] == 't'
	case 'n':
		r.skip()
	default:
		r.fail()
	}
}

func (r *jsonReader) integer(p *int) {
	switch c := r.peek(); {
	case c == 'n':
		r.skip()
	case c == '-' || '0' <= c && c <= '9':
		n, err := strconv.ParseInt(string(r.skip()), 10, strconv.IntSize)
		if err != nil && r.err == nil {
			r.err = errCacheType
		}
		if err == nil {
			*p = int(n)
		}
	default:
		r.fail()
	}
}

// time hands the value, as it is, to time.Time's UnmarshalJSON, as
// json.Unmarshal does.
func (r *jsonReader) time(p *time.Time) {
	if err := p.UnmarshalJSON(r.skip()); err != nil && r.err == nil {
		r.err = err
	}
}

// strs reads an array of strings into *p the way json.Unmarshal does,
// reusing what *p holds: [] is an empty slice, null is nil.
func (r *jsonReader) strs(p *[]string) {
	if r.null() {
		*p = nil
		return
	}
	if r.peek() != '[' {
		r.fail()
		return
	}
	r.i++
	s, n := (*p)[:cap(*p)], 0
	for {
		switch r.peek() {
		case ']':
			r.i++
			if n == 0 {
				*p = []string{}
			} else {
				*p = s[:n]
			}
			return
		case ',':
			r.i++
		}
		if n == len(s) {
			s = append(s[:n], "")
			s = s[:cap(s)]
		}
		r.str(&s[n])
		n++
	}
}

// mapOf reads an object into the map *p, making it when it is nil; each
// value is read into a zero V. null makes *p nil.
func mapOf[V any](r *jsonReader, p *map[string]V, read func(*V)) {
	if r.null() {
		*p = nil
		return
	}
	if r.peek() != '{' {
		r.fail()
		return
	}
	if *p == nil {
		*p = map[string]V{}
	}
	r.object(func(k string) bool {
		var v V
		read(&v)
		(*p)[k] = v
		return true
	})
}

// pointer reads into **p, making it when it is nil; null makes it nil.
func pointer[T any](r *jsonReader, p **T, read func(*T)) {
	if r.null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(T)
	}
	read(*p)
}

// isKey reports whether a key names the field name, the way json.Unmarshal
// matches them: exactly, or else ignoring case.
func isKey(key, name string) bool { return key == name || strings.EqualFold(key, name) }

// unquoteJSON is the text of a valid JSON string's contents (without its
// quotes). Like encoding/json, it turns invalid UTF-8 and lone surrogates
// into U+FFFD.
func unquoteJSON(s []byte) string {
	i := 0
	for i < len(s) && s[i] != '\\' && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return string(s)
	}
	b := make([]byte, i, len(s)+utf8.UTFMax)
	copy(b, s)
	for i < len(s) {
		switch c := s[i]; {
		case c == '\\' && s[i+1] == 'u':
			r := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = hex4(s[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); d != unicode.ReplacementChar {
					r, i = d, i+6
				} else {
					r = unicode.ReplacementChar
				}
			}
			b = utf8.AppendRune(b, r)
		case c == '\\':
			e := s[i+1] // one of " \\ / b f n r t
			if j := strings.IndexByte("bfnrt", e); j >= 0 {
				e = "\b\f\n\r\t"[j]
			}
			b = append(b, e)
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r)
			i += n
		}
	}
	return string(b)
}

// hex4 is the value of four hex digits (valid JSON has them after \u).
func hex4(s []byte) rune {
	n, err := strconv.ParseUint(string(s[:4]), 16, 32)
	if err != nil {
		return -1
	}
	return rune(n)
}

// The cache file's types, field by field, in the order of their struct
// tags. TestDecodeCacheFile_ReadsEveryField fails when a field is missing.

func (c *CacheFile) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "version"):
			r.integer(&c.Version)
		case isKey(k, "tokens"):
			mapOf(r, &c.Tokens, func(e *Entry) { e.read(r) })
		default:
			return false
		}
		return true
	})
}

func (e *Entry) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "host"):
			r.str(&e.Host)
		case isKey(k, "account_id"):
			r.str(&e.AccountID)
		case isKey(k, "client_id"):
			r.str(&e.ClientID)
		case isKey(k, "scopes"):
			r.strs(&e.Scopes)
		case isKey(k, "access_token"):
			r.str(&e.AccessToken)
		case isKey(k, "token_type"):
			r.str(&e.TokenType)
		case isKey(k, "refresh_token"):
			r.str(&e.RefreshToken)
		case isKey(k, "refresh_token_in"):
			r.str(&e.RefreshTokenIn)
		case isKey(k, "id_token"):
			r.str(&e.IDToken)
		case isKey(k, "expiry"):
			r.time(&e.Expiry)
		case isKey(k, "obtained_at"):
			r.time(&e.ObtainedAt)
		case isKey(k, "metadata"):
			e.Metadata.read(r)
		case isKey(k, "grant"):
			pointer(r, &e.Grant, func(g *Grant) { g.read(r) })
		case isKey(k, "client_secret"):
			r.str(&e.ClientSecret)
		case isKey(k, "client_secret_in"):
			r.str(&e.ClientSecretIn)
		case isKey(k, "resource"):
			r.str(&e.Resource)
		case isKey(k, "resolution"):
			pointer(r, &e.Resolution, func(s *Resolution) { s.read(r) })
		case isKey(k, "registration"):
			pointer(r, &e.Registration, func(g *Registration) { g.read(r) })
		case isKey(k, "dpop"):
			pointer(r, &e.DPoP, func(d *DPoPKey) { d.read(r) })
		default:
			return false
		}
		return true
	})
}

func (m *Metadata) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "issuer"):
			r.str(&m.Issuer)
		case isKey(k, "authorization_endpoint"):
			r.str(&m.AuthorizationEndpoint)
		case isKey(k, "token_endpoint"):
			r.str(&m.TokenEndpoint)
		case isKey(k, "revocation_endpoint"):
			r.str(&m.RevocationEndpoint)
		case isKey(k, "device_authorization_endpoint"):
			r.str(&m.DeviceAuthorizationEndpoint)
		case isKey(k, "userinfo_endpoint"):
			r.str(&m.UserinfoEndpoint)
		case isKey(k, "registration_endpoint"):
			r.str(&m.RegistrationEndpoint)
		case isKey(k, "code_challenge_methods_supported"):
			r.strs(&m.CodeChallengeMethodsSupported)
		case isKey(k, "scopes_supported"):
			r.strs(&m.ScopesSupported)
		case isKey(k, "authorization_response_iss_parameter_supported"):
			r.boolean(&m.AuthorizationResponseIssSupported)
		case isKey(k, "token_endpoint_auth_methods_supported"):
			r.strs(&m.TokenEndpointAuthMethodsSupported)
		case isKey(k, "dpop_signing_alg_values_supported"):
			r.strs(&m.DPoPSigningAlgValuesSupported)
		case isKey(k, "grant_types_supported"):
			r.strs(&m.GrantTypesSupported)
		case isKey(k, "client_id_metadata_document_supported"):
			r.boolean(&m.ClientIDMetadataDocumentSupported)
		case isKey(k, "openid"):
			r.boolean(&m.OpenID)
		default:
			return false
		}
		return true
	})
}

func (g *Grant) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "type"):
			r.str(&g.Type)
		case isKey(k, "client_auth"):
			r.str(&g.ClientAuth)
		case isKey(k, "client_auth_forced"):
			r.boolean(&g.AuthForced)
		case isKey(k, "key"):
			r.str(&g.Key)
		case isKey(k, "alg"):
			r.str(&g.Alg)
		case isKey(k, "subject_token_source"):
			r.str(&g.SubjectToken)
		case isKey(k, "subject_token_type"):
			r.str(&g.SubjectTokenType)
		case isKey(k, "scopes"):
			r.strs(&g.Scopes)
		default:
			return false
		}
		return true
	})
}

func (s *Resolution) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "kind"):
			r.str((*string)(&s.Kind))
		case isKey(k, "kind_from"):
			r.str(&s.KindFrom)
		case isKey(k, "issuer"):
			r.str(&s.Issuer)
		case isKey(k, "issuer_from"):
			r.str(&s.IssuerFrom)
		case isKey(k, "resource"):
			r.str(&s.Resource)
		case isKey(k, "resource_from"):
			r.str(&s.ResourceFrom)
		case isKey(k, "dpop_required"):
			r.boolean(&s.DPoPRequired)
		case isKey(k, "account_id"):
			r.str(&s.AccountID)
		case isKey(k, "workspace_id"):
			r.str(&s.WorkspaceID)
		case isKey(k, "cloud"):
			r.str(&s.Cloud)
		case isKey(k, "client_id"):
			r.str(&s.ClientID)
		case isKey(k, "client_id_from"):
			r.str(&s.ClientIDFrom)
		case isKey(k, "client_registered"):
			r.boolean(&s.ClientRegistered)
		case isKey(k, "scopes"):
			r.strs(&s.Scopes)
		case isKey(k, "redirect_uri"):
			r.str(&s.RedirectURI)
		default:
			return false // Metadata is not in the file (json:"-")
		}
		return true
	})
}

func (g *Registration) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "endpoint"):
			r.str(&g.Endpoint)
		case isKey(k, "client_uri"):
			r.str(&g.ClientURI)
		case isKey(k, "redirect_uris"):
			r.strs(&g.RedirectURIs)
		case isKey(k, "application_type"):
			r.str(&g.ApplicationType)
		case isKey(k, "registered_at"):
			r.time(&g.RegisteredAt)
		case isKey(k, "dpop_bound_access_tokens"):
			r.boolean(&g.DPoPBound)
		case isKey(k, "grant_types"):
			r.strs(&g.GrantTypes)
		case isKey(k, "refused"):
			r.boolean(&g.Refused)
		default:
			return false
		}
		return true
	})
}

func (d *DPoPKey) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "key"):
			r.str(&d.Key)
		case isKey(k, "jwk"):
			d.JWK.read(r)
		case isKey(k, "jkt"):
			r.str(&d.JKT)
		case isKey(k, "required"):
			r.boolean(&d.Required)
		case isKey(k, "nonces"):
			mapOf(r, &d.Nonces, r.str)
		default:
			return false
		}
		return true
	})
}

func (j *JWK) read(r *jsonReader) {
	r.object(func(k string) bool {
		switch {
		case isKey(k, "kty"):
			r.str(&j.Kty)
		case isKey(k, "crv"):
			r.str(&j.Crv)
		case isKey(k, "x"):
			r.str(&j.X)
		case isKey(k, "y"):
			r.str(&j.Y)
		default:
			return false
		}
		return true
	})
}
