package rollback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func TestOutage(t *testing.T) {
	status := func(code int) error {
		return githttp.NewErr(&http.Response{StatusCode: code, Status: http.StatusText(code), Body: http.NoBody, Request: &http.Request{URL: nil}})
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"503", fmt.Errorf("fetch main: %w", status(http.StatusServiceUnavailable)), true},
		{"502", status(http.StatusBadGateway), true},
		{"timeout", fmt.Errorf("push: %w", context.DeadlineExceeded), true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset", syscall.ECONNRESET, true},
		{"cut short", io.ErrUnexpectedEOF, true},
		{"canceled", context.Canceled, false},
		{"bad credentials", fmt.Errorf("%w: bad token", transport.ErrAuthenticationRequired), false},
		{"forbidden", fmt.Errorf("%w: protected", transport.ErrAuthorizationFailed), false},
		{"other", errors.New("conflict"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Outage(tc.err); got != tc.want {
				t.Fatalf("Outage(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
