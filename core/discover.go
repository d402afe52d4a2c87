package core

import (
	"errors"
	"fmt"
	"strings"
)

// discovery walks the [Candidates] of a target until one serves metadata:
// the shared first step of every flow that starts from a host.
type discovery struct {
	target Target
	cands  []Candidate
	tried  []string
}

// start begins a machine's way to the server's metadata, as [discovery.step]
// answers: the metadata it was given, or that target resolution found, at
// once; else the first discovery request.
func (d *discovery) start(known *Metadata, res *Resolution, t Target) (*Metadata, *Request, error) {
	if known == nil && res != nil {
		known = &res.Metadata
	}
	if known != nil {
		return known, nil, nil
	}
	req, err := d.begin(t)
	if err != nil {
		return nil, nil, err
	}
	return nil, &req, nil
}

func (d *discovery) begin(t Target) (Request, error) {
	d.target = t
	d.cands = Candidates(t)
	if len(d.cands) == 0 {
		return Request{}, fmt.Errorf("invalid host %q", t.Host)
	}
	return getRequest(d.cands[0].URL), nil
}

// step consumes the answer to the last request: metadata when found, else
// the next request, else the error that ends discovery.
func (d *discovery) step(ev Fetched) (*Metadata, *Request, error) {
	c := d.cands[0]
	if ev.Err != nil {
		// The host itself is unreachable: every other candidate would
		// fail the same way, so say so now instead of retrying.
		return nil, nil, fmt.Errorf("%w: cannot reach %s: %v", ErrDiscovery, d.target.Host, ev.Err)
	}
	if ev.Response.Status == 200 {
		m, err := ParseMetadata(c, ev.Response.Body)
		if err == nil {
			return m, nil, nil
		}
		if !errors.Is(err, errMetadataNotJSON) {
			return nil, nil, err
		}
		d.tried = append(d.tried, c.URL+" (not JSON)")
	} else {
		d.tried = append(d.tried, fmt.Sprintf("%s (HTTP %d)", c.URL, ev.Response.Status))
	}
	d.cands = d.cands[1:]
	if len(d.cands) == 0 {
		return nil, nil, fmt.Errorf("%w: no OAuth metadata found for %s; tried %s", ErrDiscovery, d.target.Host, strings.Join(d.tried, ", "))
	}
	next := getRequest(d.cands[0].URL)
	return nil, &next, nil
}
