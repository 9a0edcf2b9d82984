package vocab

import (
	"regexp"
	"strconv"
	"strings"
)

// Hidden markers: an HTML comment on the first line of a comment (or in a
// pull request or issue body) that keys ensign's own writing, so that it is
// found and updated instead of written twice. Only what ensign's account
// wrote counts.
const (
	// StatusMarker keys the one status comment per pull request.
	StatusMarker = "<!-- ensign:status -->"
	// CloseMarker keys the comment left when closing a superseded pull request.
	CloseMarker = "<!-- ensign:close -->"
)

var markerRE = regexp.MustCompile(`^<!-- ensign:[a-z0-9][a-z0-9:_-]* -->$`)

// ValidMarker reports whether marker has the shape of ensign's markers:
// "<!-- ensign:name -->" with name of lowercase letters, digits and ":_-".
func ValidMarker(marker string) bool { return markerRE.MatchString(marker) }

// ReplyMarker keys ensign's answer to the comment with the given id, so a
// repeated delivery updates that answer instead of adding one.
func ReplyMarker(commentID int64) string {
	return "<!-- ensign:reply:" + strconv.FormatInt(commentID, 10) + " -->"
}

// RollbackMarker keys ensign's rollback comment about commit (a full id)
// on the pull request that introduced it, or the issue opened instead.
func RollbackMarker(commit string) string {
	return "<!-- ensign:rollback:" + strings.ToLower(commit) + " -->"
}

// ReplacedMarker keys the comment saying ensign replaced a head someone
// else pushed to its promotion branch.
func ReplacedMarker(head string) string {
	return "<!-- ensign:replaced:" + strings.ToLower(head) + " -->"
}

// RevertKey is the hidden line of a revert pull request's body that ties it
// to what it answers (a failure id or a person's request), so a merged
// revert pull request is found again. Each "--" of the key becomes "-", so
// the key cannot end the comment.
func RevertKey(key string) string {
	return "<!-- ensign:rollback-key " + strings.ReplaceAll(key, "--", "-") + " -->"
}
