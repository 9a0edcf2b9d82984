package vocab

import (
	"strings"

	"github.com/ensignbot/ensign/gitops"
)

// Trailer keys ensign writes on its commits.
const (
	// TrailerPromotion names what a promotion commit (and the merge of its
	// pull request) promotes: "<app>/<to>".
	TrailerPromotion = "Ensign-Promotion"
	// TrailerPromotionID is the promotion's identity (Promotion.ID).
	TrailerPromotionID = "Ensign-Promotion-Id"
	// TrailerSource is where a promotion comes from: "<from>@<revision or unknown>".
	TrailerSource = "Ensign-Source"
	// TrailerVerifiedBy is the canary that verified a promotion:
	// "<cluster>/<namespace>/<name>".
	TrailerVerifiedBy = "Ensign-Verified-By"
	// TrailerOverride records who merged a promotion outside its windows, and why.
	TrailerOverride = "Ensign-Override"
	// TrailerReverts is the full id of the commit a revert reverts.
	TrailerReverts = "Ensign-Reverts"
	// TrailerRollback marks a revert ensign made for a failed canary or a
	// person's rollback: "<app>/<stage>".
	TrailerRollback = "Ensign-Rollback"
	// TrailerFailure identifies the canary failure a revert answers:
	// "<cluster>/<namespace>/<name>@<RFC 3339 transition time>".
	TrailerFailure = "Ensign-Failure"
	// TrailerImage is an image reference a commit promoted or reverted, one
	// trailer per image.
	TrailerImage = "Ensign-Image"
	// TrailerRequestedBy names the person who asked (/promote, /rollback, CLI).
	TrailerRequestedBy = "Ensign-Requested-By"
	// TrailerFreeze marks a commit that freezes, unfreezes or tidies
	// emergency freezes of the policy: "<action> <stage> of <apps>".
	TrailerFreeze = "Ensign-Freeze"
)

// PromotionTrailers are the only trailer keys a promotion commit carries.
var PromotionTrailers = []string{TrailerPromotion, TrailerPromotionID, TrailerSource, TrailerVerifiedBy, TrailerImage, TrailerRequestedBy}

// gitRevertLine starts the line git writes into a revert's message.
const gitRevertLine = "This reverts commit "

// Reverted returns the commits a commit message says it reverts, lowercase:
// the values of ensign's TrailerReverts and the id on every line git's
// revert writes ("This reverts commit <id>"), full or abbreviated (7 to 40
// hex digits, as a person may write it). This is the one definition of a
// revert in ensign.
func Reverted(msg string) []string {
	var out []string
	add := func(id string) {
		id = strings.ToLower(id)
		if isHexID(id) && !contains(out, id) {
			out = append(out, id)
		}
	}
	for _, v := range gitops.TrailerValues(msg, TrailerReverts) {
		add(v)
	}
	for line := range strings.SplitSeq(msg, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), gitRevertLine)
		if !ok {
			continue
		}
		end := 0
		for end < len(rest) && end < 40 && isHex(rest[end]) {
			end++
		}
		if end == len(rest) || !isHex(rest[end]) {
			add(rest[:end])
		}
	}
	return out
}

// IsRevert reports whether a commit message says the commit is a revert.
func IsRevert(msg string) bool { return len(Reverted(msg)) > 0 }

// RevertsCommit reports whether id (full, lowercase) is among what a
// message reverts, an abbreviated id counting as its prefix.
func RevertsCommit(msg, id string) bool {
	id = strings.ToLower(id)
	for _, r := range Reverted(msg) {
		if strings.HasPrefix(id, r) {
			return true
		}
	}
	return false
}

func isHexID(s string) bool {
	if len(s) < 7 || len(s) > 40 {
		return false
	}
	for i := range len(s) {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
