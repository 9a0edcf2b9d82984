// Package freeze owns emergency freezes: a person (with `ensign freeze` or
// a /freeze comment) closes a stage of some apps, or of every app, for a
// while, with a reason; ensign writes the freeze into the policy file on
// the deploy branch, so it is in Git like every other rule, reviewed and
// reverted like them, and seen by every ensign replica at once. A freeze
// is a deny window (policy.Freeze): while it lasts ensign merges nothing
// into the stage, its ensign/window commit status fails, and /status and
// `ensign status` say who froze it, until when and why. Rollbacks still
// land, as they do in any deny window the policy lets them pass.
//
// The Service changes only the policy's freezes block (policy.SetFreezes
// keeps every other byte) and commits as ensign, with the person in the
// message and trailers. Where the deploy branch refuses ensign's push
// (branch protection), it opens a pull request instead and says so.
// Unfreeze removes freezes; Expire removes the ones that have ended.
//
// The Service returns typed Outcomes and never renders replies.
package freeze
