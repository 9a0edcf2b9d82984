package cluster

import (
	"net/http"
	"strconv"
)

// maxRetryAfter is the longest wait, in seconds, that ensign lets the API
// server ask for between tries of a request.
const maxRetryAfter = 1

// capRetryAfter lowers the Retry-After of the API server's answers to at
// most maxRetryAfter seconds. A starting kube-apiserver answers every
// request 429 "not fully initialized yet" with Retry-After: 5, and
// client-go sleeps that out before it tries again (up to ten times): a
// canary that failed as the server came back, or the list that catches up
// with canaries after an outage, would wait up to 5 s after the server was
// ready. Trying every second instead costs a few more requests while the
// server starts.
type capRetryAfter struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (c capRetryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if n, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && n > maxRetryAfter {
		resp.Header.Set("Retry-After", strconv.Itoa(maxRetryAfter))
	}
	return resp, nil
}
