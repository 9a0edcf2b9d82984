// Package status reports where each app of a GitOps repository stands: per
// stage, the version Git pins, the canary's phase and the version its primary
// runs, whether the stage's promotion window is open and when it next opens,
// and the promotions queued for it; and whether the policy file loads. It
// builds the Report behind /status and `ensign status`; rendering it is the
// caller's.
//
// It only reads (Git, Gitea, the clusters); a cluster that cannot be reached
// is shown as such rather than failing the whole report. Safe for concurrent use.
package status
