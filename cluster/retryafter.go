package cluster

import (
	"context"
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
//
// A request whose context went through CallerRetries loses the header of
// a 429 or 503 answer altogether: client-go then hands the answer back at
// once, and the caller tries again on its own, sooner than the whole
// second client-go would wait.
type capRetryAfter struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (c capRetryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if callerRetries(req.Context()) && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		resp.Header.Del("Retry-After")
		return resp, nil
	}
	if n, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && n > maxRetryAfter {
		resp.Header.Set("Retry-After", strconv.Itoa(maxRetryAfter))
	}
	return resp, nil
}

type callerRetriesKey struct{}

// CallerRetries marks the requests made with the returned context as
// retried by their caller when the API server is not serving (429 or
// 503): client-go returns such an answer as an error at once instead of
// waiting the whole seconds of its Retry-After. The canary watch uses it:
// it tries again every 250 ms until the server answers, so that it comes
// back within that of the server being ready.
func CallerRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerRetriesKey{}, true)
}

func callerRetries(ctx context.Context) bool {
	v, _ := ctx.Value(callerRetriesKey{}).(bool)
	return v
}
