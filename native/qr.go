package native

import (
	"io"
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the light margin around the code, in modules. The standard
// asks for 4; 2 is what phone scanners need in practice and saves four
// terminal lines.
const qrQuiet = 2

// WriteQR draws text as a QR code (error correction level L) with Unicode
// half blocks: one character cell holds two modules, one above the other.
// Light modules are drawn (█, ▀, ▄) and dark ones left blank, so on the
// usual light-on-dark terminal the code shows dark on light, as scanners
// expect. It returns an error, drawing nothing, when text does not fit in
// a QR code.
//
// The encoder is rsc.io/qr (the one github.com/mdp/qrterminal wraps);
// drawing it ourselves keeps the terminal untouched (qrterminal's Generate
// probes it for sixel support by writing to stdout and reading back) and
// turns an oversized text into an error rather than a nil dereference.
func WriteQR(w io.Writer, text string) error {
	c, err := qr.Encode(text, qr.L)
	if err != nil {
		return err
	}
	n := c.Size + 2*qrQuiet
	dark := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		return x >= 0 && y >= 0 && x < c.Size && y < c.Size && c.Black(x, y)
	}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := range n {
			top, bottom := dark(x, y), dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteByte(' ')
			case top:
				b.WriteString("▄")
			case bottom:
				b.WriteString("▀")
			default:
				b.WriteString("█")
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}
