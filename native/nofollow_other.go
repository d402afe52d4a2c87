//go:build !unix

package native

// oNoFollow: no O_NOFOLLOW here.
const oNoFollow = 0
