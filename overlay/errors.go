package overlay

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error returned by this package for bad or
// unsupported input is an [*Error] that wraps one of these.
var (
	// ErrParse means the input is not valid YAML (or not UTF-8).
	ErrParse = errors.New("invalid yaml")
	// ErrNotFound means a key, index, image, document or file does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous means more than one node, document or entry matches.
	ErrAmbiguous = errors.New("ambiguous")
	// ErrType means a node has the wrong kind, e.g. a mapping where a scalar
	// value is required.
	ErrType = errors.New("wrong node kind")
	// ErrUnsupported means the input is valid YAML but cannot be edited
	// without risking changes beyond the requested one.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalid means an argument (path, selector, image, value) is invalid.
	ErrInvalid = errors.New("invalid argument")
	// ErrSymlink means a path is a symbolic link. ensign neither follows
	// links nor copies them: a copy would turn a link into a file holding
	// the link's target, so it refuses instead.
	ErrSymlink = errors.New("is a symbolic link; ensign does not follow or copy links")
)

// Error describes a failed read or edit: which file, which line, which key.
type Error struct {
	// File is the name the caller gave to [Parse] (or a path in a [Tree]).
	File string
	// Line is the 1-based line of the offending node, or 0 if not known.
	Line int
	// Key is the YAML path of the offending node, e.g. "images[2].newTag",
	// or empty.
	Key string
	// Err is the cause; it wraps one of the package's sentinel errors.
	Err error
}

// Error returns "file:line: key: cause", omitting empty parts.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		if s != "" {
			s += ": "
		}
		s += e.Key
	}
	if s != "" {
		s += ": "
	}
	return s + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newErr builds an *Error whose cause is sentinel wrapped with a detail.
func newErr(file string, line int, key string, sentinel error, format string, args ...any) *Error {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), sentinel)
	}
	return &Error{File: file, Line: line, Key: key, Err: err}
}
