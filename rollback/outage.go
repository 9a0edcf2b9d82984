package rollback

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Outage reports whether err says the Git server could not be reached or
// could not answer (refused or reset connections, timeouts, a connection
// cut short, 5xx answers): a moment later the same request may succeed. A
// refusal (a protected branch, bad credentials, a missing repository) is
// not an outage.
func Outage(err error) bool {
	var he *githttp.Err
	var ne net.Error
	var ue *plumbing.UnexpectedError // go-git's wrapper of an answer's status, without Unwrap
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case err == nil:
		return false
	case errors.As(err, &he):
		return he.StatusCode() >= 500
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}
