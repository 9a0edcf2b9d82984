package forge

import (
	"context"
	"errors"
	"fmt"
	"net"

	"code.gitea.io/sdk/gitea"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrNotFound means Gitea answered 404 for the object asked about.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyMerged means Merge found the pull request already merged;
	// callers that wanted it merged can treat it as success.
	ErrAlreadyMerged = errors.New("pull request already merged")
	// ErrClosed means the pull request is closed without being merged.
	ErrClosed = errors.New("pull request is closed")
	// ErrHeadChanged means the pull request's head is no longer the SHA the
	// caller expected; nothing was merged.
	ErrHeadChanged = errors.New("pull request head changed")
	// ErrNotMergeable means Gitea kept refusing the merge as not mergeable
	// (still checking, or conflicting) for the whole bounded wait.
	ErrNotMergeable = errors.New("pull request not mergeable")
)

// StatusError is an error status answered by Gitea's API.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Message is Gitea's error message, if it sent one.
	Message string
}

// Error returns "gitea answered <code>: <message>".
func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("gitea answered %d", e.Code)
	}
	return fmt.Sprintf("gitea answered %d: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Code == 404
}

// statusErr turns an SDK error into a *StatusError when the response says
// Gitea answered with an error status; other errors pass through.
func statusErr(resp *gitea.Response, err error) error {
	if err == nil {
		return nil
	}
	if resp != nil && resp.Response != nil && resp.StatusCode >= 300 {
		return &StatusError{Code: resp.StatusCode, Message: err.Error()}
	}
	return err
}

// Transient reports whether err is worth retrying later: a network error or
// timeout, or a 5xx, 408 or 429 answer. Terminal answers (4xx) and ensign's
// sentinels other than ErrNotMergeable are not transient.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotMergeable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == 408 || se.Code == 429
	}
	var ne net.Error
	return errors.As(err, &ne)
}
