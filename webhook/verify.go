package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Signature errors returned by Verify.
var (
	ErrNoSignature  = errors.New("missing X-Gitea-Signature")
	ErrBadSignature = errors.New("signature does not match")
)

// Verify checks that signature (the X-Gitea-Signature header: lowercase hex
// HMAC-SHA256 of body keyed by secret; upper-case hex is accepted too)
// matches body. The comparison takes the same time wherever the first
// difference is.
func Verify(secret, body []byte, signature string) error {
	if signature == "" {
		return ErrNoSignature
	}
	var got [sha256.Size]byte
	if len(signature) != hex.EncodedLen(sha256.Size) {
		return ErrBadSignature
	}
	if _, err := hex.Decode(got[:], []byte(signature)); err != nil {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	var want [sha256.Size]byte
	if !hmac.Equal(mac.Sum(want[:0]), got[:]) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the X-Gitea-Signature value for body, as Gitea computes it.
// Tests and tools use it to make signed requests.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
