//go:build !unix

package gitops

import "errors"

// mapFile is not available here: packReader then finds nothing and every
// read goes through go-git.
func mapFile(name string) ([]byte, error) { return nil, errors.New("no mmap on this platform") }

func unmapFile(b []byte) {}
