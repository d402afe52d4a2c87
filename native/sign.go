package native

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"

	"github.com/dualauth/dualauth/core"
)

// maxKeyFile caps what is read of a private key file: a 4096-bit RSA key
// in PEM is about 3.3 kB.
const maxKeyFile = 64 << 10

// SigningKey is a private key read from a file, for [core.Sign]: EC P-256
// signs ES256, RSA (2048 bits or more) RS256.
type SigningKey struct {
	Alg    string
	signer crypto.Signer
}

// LoadSigningKey reads the private key at path: PEM (PKCS #8 "PRIVATE
// KEY", or "EC PRIVATE KEY" / "RSA PRIVATE KEY") or a JWK (JSON). Errors
// name the file and what is wrong, never the key.
func LoadSigningKey(path string) (*SigningKey, error) {
	raw, err := readCapped(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	return parseSigningKey(raw, path)
}

// parseSigningKey reads a private key in PEM or JWK; path names it in
// errors.
func parseSigningKey(raw []byte, path string) (*SigningKey, error) {
	var key any
	var err error
	if block, _ := pem.Decode(raw); block != nil {
		key, err = parsePEMKey(block)
	} else if len(raw) > 0 && raw[0] == '{' {
		key, err = parseJWK(raw)
	} else {
		err = errors.New("neither PEM nor a JWK")
	}
	if err != nil {
		return nil, fmt.Errorf("the private key %s: %v", path, err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("the private key %s is an EC %s key: dualauth signs with EC P-256 (ES256) or RSA (RS256) keys", path, k.Curve.Params().Name)
		}
		return &SigningKey{Alg: core.AlgES256, signer: k}, nil
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("the private key %s is a %d-bit RSA key: use 2048 bits or more", path, k.N.BitLen())
		}
		return &SigningKey{Alg: core.AlgRS256, signer: k}, nil
	}
	return nil, fmt.Errorf("the private key %s is a %T key: dualauth signs with EC P-256 (ES256) or RSA (RS256) keys", path, key)
}

func parsePEMKey(b *pem.Block) (any, error) {
	switch b.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("PKCS #8 key does not parse")
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("EC key does not parse")
		}
		return k, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("RSA key does not parse")
		}
		return k, nil
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("is encrypted: give an unencrypted PKCS #8 key (keep the file 0600)")
	}
	return nil, fmt.Errorf("holds a %q PEM block, not a private key", b.Type)
}

// parseJWK reads a private JWK (RFC 7517/7518): kty EC (crv P-256) or RSA.
func parseJWK(raw []byte) (any, error) {
	var j struct {
		Kty, Crv, X, Y, D, N, E, P, Q string
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, errors.New("is not valid JSON")
	}
	num := func(s string) (*big.Int, error) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, errors.New("JWK has a missing or bad member")
		}
		return new(big.Int).SetBytes(b), nil
	}
	if j.D == "" {
		return nil, errors.New("JWK has no private part (d)")
	}
	switch j.Kty {
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("JWK curve %q: dualauth signs with P-256 (ES256) or RSA (RS256) keys", j.Crv)
		}
		d, err := num(j.D)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 32)
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(b))
		if err != nil {
			return nil, errors.New("JWK is not a valid P-256 key")
		}
		if x, y := k.PublicKey.X, k.PublicKey.Y; j.X != "" && (j.X != b64(x, 32) || j.Y != b64(y, 32)) {
			return nil, errors.New("JWK x and y do not match d")
		}
		return k, nil
	case "RSA":
		var ints [5]*big.Int
		for i, s := range []string{j.N, j.E, j.D, j.P, j.Q} {
			v, err := num(s)
			if err != nil {
				return nil, errors.New("RSA JWK needs n, e, d, p and q")
			}
			ints[i] = v
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: ints[0], E: int(ints[1].Int64())}, D: ints[2], Primes: []*big.Int{ints[3], ints[4]}}
		if err := k.Validate(); err != nil {
			return nil, errors.New("RSA JWK is not a valid key")
		}
		k.Precompute()
		return k, nil
	}
	return nil, fmt.Errorf("JWK kty %q: dualauth signs with EC P-256 (ES256) or RSA (RS256) keys", j.Kty)
}

func b64(n *big.Int, size int) string {
	return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, size)))
}

// Sign signs a JWS signing input with alg, which must be the key's own.
func (k *SigningKey) Sign(alg string, input []byte) ([]byte, error) {
	if alg != k.Alg {
		return nil, fmt.Errorf("the key is for %s, but the login signs with %s: log in again with this key", k.Alg, alg)
	}
	sum := sha256.Sum256(input)
	switch s := k.signer.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, s, sum[:])
		if err != nil {
			return nil, err
		}
		// JWS wants R||S, 32 bytes each (RFC 7518 §3.4), not ASN.1.
		return append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...), nil
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, sum[:])
	}
	return nil, errors.New("unsupported key")
}

// Public returns the public key (for tests and the JWKS a server is given).
func (k *SigningKey) Public() crypto.PublicKey { return k.signer.Public() }

// readCapped reads at most max bytes of the file at path; a longer file is
// an error.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readCappedFile(f, max)
}

// readCappedFile is [readCapped] of an open file.
func readCappedFile(f *os.File, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Name(), max)
	}
	return b, nil
}
