package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestDecodeCacheFile_NewerVersionIsATypedErrorNotCorruption(t *testing.T) {
	is := is.New(t)
	_, err := DecodeCacheFile([]byte(`{"version":7,"tokens":{}}`))
	var newer *NewerCacheError
	is.True(errors.As(err, &newer))
	is.Equal(newer.Version, 7)
	is.True(strings.Contains(err.Error(), "written by a newer dualauth"))

	for _, old := range []string{`{"version":0,"tokens":{}}`, `{"version":-1}`} {
		_, err = DecodeCacheFile([]byte(old))
		is.True(err != nil)
		is.True(!errors.As(err, &newer)) // an unknown older version is corrupt
	}
}
