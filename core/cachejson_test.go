package core

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// decodeWithEncodingJSON is DecodeCacheFile as it was, on json.Unmarshal:
// the reference the reflection-free reader must agree with.
func decodeWithEncodingJSON(b []byte) (*CacheFile, error) {
	c := &CacheFile{Version: CacheVersion, Tokens: map[string]Entry{}}
	if len(strings.TrimSpace(string(b))) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, errCacheNotJSON
	}
	return c.checked()
}

// sameAsEncodingJSON fails t unless DecodeCacheFile and json.Unmarshal
// agree on raw: both refuse it with the same message, or both give equal
// caches.
func sameAsEncodingJSON(t *testing.T, raw []byte) {
	t.Helper()
	got, gerr := DecodeCacheFile(raw)
	want, werr := decodeWithEncodingJSON(raw)
	if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
		t.Fatalf("%q: error %v, encoding/json says %v", raw, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", raw, got, want)
	}
}

// fill sets every field that the cache file carries to a value that is not
// the zero value, recursively, naming strings by their path.
func fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(path + " é\u2028<&>\"\\")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int:
		v.SetInt(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), path+"[0]")
		fill(v.Index(1), path+"[1]")
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, path+"{}")
		v.SetMapIndex(reflect.ValueOf("key of "+path), e)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 30, 5, 0, len(path), 123, time.UTC)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() && f.Tag.Get("json") != "-" {
				fill(v.Field(i), path+"."+f.Name)
			}
		}
	default:
		panic("fill: add a case for " + v.Kind().String())
	}
}

func TestDecodeCacheFile_ReadsEveryField(t *testing.T) {
	is := is.New(t)
	var e Entry
	fill(reflect.ValueOf(&e).Elem(), "entry")
	c := &CacheFile{Version: CacheVersion, Tokens: map[string]Entry{"k": e}}
	got, err := DecodeCacheFile(c.Encode())
	is.NoErr(err)
	// A field the reader does not know comes back empty: this names it.
	if !reflect.DeepEqual(got.Tokens["k"], e) {
		g := reflect.ValueOf(got.Tokens["k"])
		for i := range g.NumField() {
			if !reflect.DeepEqual(g.Field(i).Interface(), reflect.ValueOf(e).Field(i).Interface()) {
				t.Errorf("Entry.%s is not read back", g.Type().Field(i).Name)
			}
		}
		t.FailNow()
	}
	sameAsEncodingJSON(t, c.Encode())
}

func TestDecodeCacheFile_AgreesWithEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		``, ` `, `null`, `{}`, `[]`, `"x"`, `1`, `{"version":1}`, `{"version":1,"tokens":null}`,
		`{"version":1.0}`, `{"version":"1"}`, `{"version":1e0}`, `{"version":-0,"tokens":{}}`, `{"version":99999999999999999999}`,
		`{"version":2}`, `{"version":0}`, `{"version":1,"tokens":{"k":null}}`, `{"version":1,"tokens":[]}`,
		`{"VERSION":1,"Tokens":{"k":{"ACCESS_TOKEN":"a","Host":"h"}}}`,
		`{"version":1,"tokens":{"k":{"access_token":"a","access_token":"b"}}}`,
		`{"version":1,"tokens":{"k":{"scopes":["a","b"],"scopes":[null]}}}`,
		`{"version":1,"tokens":{"k":{"scopes":["a","b"],"scopes":[]}}}`,
		`{"version":1,"tokens":{"k":{"scopes":null}}}`,
		`{"version":1,"tokens":{"k":{"scopes":[1]}}}`,
		`{"version":1,"tokens":{"k":{"scopes":"a"}}}`,
		`{"version":1,"tokens":{"k":{"metadata":{"issuer":"i"},"metadata":{"token_endpoint":"t"}}}}`,
		`{"version":1,"tokens":{"k":{"grant":{"type":"a"},"grant":{"key":"b"}}}}`,
		`{"version":1,"tokens":{"k":{"grant":{"type":"a"},"grant":null}}}`,
		`{"version":1,"tokens":{"k":{"grant":5}}}`, `{"version":1,"tokens":{"k":{"metadata":[]}}}`,
		`{"version":1,"tokens":{"k":{"dpop":{"nonces":{"a":"1","b":null}}}}}`,
		`{"version":1,"tokens":{"k":{"dpop":{"nonces":null,"jwk":{"kty":"EC","X":"x"}}}}}`,
		`{"version":1,"tokens":{"k":{"expiry":"2026-11-30T05:00:00Z"}}}`,
		`{"version":1,"tokens":{"k":{"expiry":"2026-11-30T05:00:00+01:00"}}}`,
		`{"version":1,"tokens":{"k":{"expiry":null}}}`, `{"version":1,"tokens":{"k":{"expiry":"yesterday"}}}`,
		`{"version":1,"tokens":{"k":{"expiry":"2026-11-30T05:00:00\u005a"}}}`, `{"version":1,"tokens":{"k":{"expiry":{}}}}`,
		`{"version":1,"tokens":{"k":{"openid":true,"metadata":{"openid":"yes"}}}}`,
		`{"version":1,"tokens":{"k":{"metadata":{"openid":false,"authorization_response_iss_parameter_supported":null}}}}`,
		`{"version":1,"tokens":{"k":{"resolution":{"kind":"databricks","metadata":{"issuer":"x"}}}}}`,
		"{\"version\":1,\"tokens\":{\"\\u00e9\\ud83d\\ude00\\ud800\\udc00x\\ud800\\u0041\\udc00\xff\xfe\xed\xa0\x80\":{\"host\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\"}}}",
		"{\"version\":1,\"tokens\":{\"k\":{\"access_token\":\"\\ud83d\"}}}",
		"{\"version\":1,\"tokens\":{\"k\":{\"ho\\u0053t\":\"h\",\"\u212a\":1,\"ſcopes\":[\"a\"]}}}",
		`{"version":1,"tokens":{"k":{"unknown":{"deep":[1,{"x":[true,false,null,"\"}"]}]},"host":"h"}}}`,
		`{"version":1,"tokens":{"k":{}}} `, `{"version":1,"tokens":{}} x`, `{"version":1,`,
	} {
		sameAsEncodingJSON(t, []byte(raw))
	}
}

func TestDecodeCacheFile_WrongTypeIsNotValidJSONEither(t *testing.T) {
	is := is.New(t)
	_, err := DecodeCacheFile([]byte(`{"version":1,"tokens":{"k":{"access_token":7}}}`))
	is.True(errors.Is(err, errCacheNotJSON))
}
