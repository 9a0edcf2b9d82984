package policy

import "time"

// APIVersion is the only apiVersion this package reads.
const APIVersion = "ensign.dev/v1alpha1"

// DefaultFilename is where ensign looks for the policy in a GitOps repository.
const DefaultFilename = ".ensign.yaml"

// Defaults applied by Load when the file leaves a field out.
const (
	DefaultIdentityName   = "ensign"
	DefaultIdentityEmail  = "ensign@localhost"
	DefaultCluster        = "default"
	DefaultFluxNamespace  = "flux-system"
	DefaultBranchPrefix   = "ensign/"
	DefaultWindowTimezone = "UTC"
	MaxWindowDuration     = 7 * 24 * time.Hour
	defaultLabelHold      = "hold"
	defaultLabelQueued    = "queued"
	defaultLabelPromotion = "promotion"
	defaultLabelRollback  = "rollback"
)

// Policy is a loaded, validated and defaulted .ensign.yaml. Only Load
// produces a valid Policy: it resolves window schedules and time zones and
// checks every cross-reference, so the query methods can trust the data.
// Treat a Policy as read-only; it is then safe to share between goroutines.
type Policy struct {
	// APIVersion is always APIVersion.
	APIVersion string
	// Identity is the author and committer of commits ensign makes.
	Identity Identity
	// Windows are the named promotion windows stages refer to, in file order.
	Windows []Window
	// Apps are the promotion pipelines, in file order.
	Apps []App
	// Rollback says how failed canaries are answered.
	Rollback Rollback
	// Commands overrides command permissions by command name; commands not
	// listed keep DefaultPermissions. Read it through CommandPermission.
	Commands map[string]Permission
	// Labels are the Gitea label names ensign uses.
	Labels Labels
	// BranchPrefix starts the name of every branch ensign creates.
	BranchPrefix string
	// Freezes are the emergency freezes, in file order; ended ones stay
	// until ensign removes them.
	Freezes []Freeze
}

// Identity is a Git author/committer.
type Identity struct {
	Name  string
	Email string
}

// App is one promotion pipeline: an ordered list of stages.
type App struct {
	Name   string
	Stages []Stage
}

// Stage is one step of an App's pipeline: an overlay in the repository that a
// Flagger canary verifies.
type Stage struct {
	Name string
	// From names the stage this one is promoted from; empty only for a
	// pipeline's entry stage, whose versions come from outside ensign (CI).
	From string
	// Overlay is the stage's directory, a clean slash-separated path relative
	// to the repository root that stays inside it.
	Overlay string
	// Canary is the Flagger canary whose result proves this stage.
	Canary CanaryRef
	// Promotion says how a promotion into this stage edits Overlay.
	Promotion Promotion
	// Mode says whether a promotion into this stage is a PR or a direct push.
	Mode Mode
	// AutoMerge lets ensign merge its promotion PR into this stage when the
	// stage's windows are open and the PR is not held. Only for ModePR.
	AutoMerge bool
	// MergeStyle is how ensign merges promotion PRs into this stage.
	MergeStyle MergeStyle
	// Windows names the windows that gate promotions into this stage (PR
	// merges, or pushes in ModePush); none means always open.
	Windows []string
	// OnFailure is what ensign does when this stage's canary fails. Load
	// fills it in: revert for final stages, Rollback.NonFinalStages otherwise,
	// unless the stage sets onFailure itself.
	OnFailure FailureAction
	// Flux names the Flux objects that deliver Overlay; nil if not set.
	Flux *Flux
}

// CanaryRef identifies a Flagger Canary: its cluster (a name the operator
// maps to a kubeconfig), namespace and name.
type CanaryRef struct {
	Cluster   string
	Namespace string
	Name      string
}

// String returns "cluster/namespace/name".
func (c CanaryRef) String() string { return c.Cluster + "/" + c.Namespace + "/" + c.Name }

// Mode is how a change lands in a stage.
type Mode string

// Modes.
const (
	ModePR   Mode = "pr"
	ModePush Mode = "push"
)

// MergeStyle is a Gitea merge style.
type MergeStyle string

// Merge styles.
const (
	MergeStyleMerge  MergeStyle = "merge"
	MergeStyleSquash MergeStyle = "squash"
	MergeStyleRebase MergeStyle = "rebase"
)

// Strategy is how a promotion edits the target overlay.
type Strategy string

// Promotion strategies.
const (
	// StrategyImages sets the target's Kustomize images to the versions the
	// source stage's canary verified.
	StrategyImages Strategy = "images"
	// StrategyCopy copies files from the source overlay to the target overlay.
	StrategyCopy Strategy = "copy"
	// StrategyYAMLPath copies values at YAML paths from the source overlay's
	// files to the same paths in the target overlay's files.
	StrategyYAMLPath Strategy = "yamlPath"
)

// Promotion configures how a promotion into a stage edits its overlay. Only
// the fields of the chosen Strategy are set; Load rejects the others.
type Promotion struct {
	Strategy Strategy
	// Images limits StrategyImages to these image names (without tag or
	// digest); empty means every image the canary's workload runs.
	Images []string
	// Files limits StrategyCopy to these paths, relative to the overlay;
	// empty means the whole overlay directory.
	Files []string
	// Exclude lists path.Match patterns, relative to the overlay, that
	// StrategyCopy never copies.
	Exclude []string
	// Fields lists the values StrategyYAMLPath copies.
	Fields []YAMLField
}

// YAMLField is one value copied by StrategyYAMLPath: the value at Path in
// File (relative to the overlay), in the document Document selects.
type YAMLField struct {
	File string
	// Path is a dot-separated key path with optional [N] list indexes, such
	// as spec.chart.spec.version or spec.template.spec.containers[0].image.
	// ParseFieldPath splits it.
	Path string
	// Document selects one document of a multi-document file; the zero value
	// selects the file's only document.
	Document DocumentSelector
}

// DocumentSelector picks a Kubernetes object in a multi-document YAML file.
// Empty fields match anything.
type DocumentSelector struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
}

// IsZero reports whether the selector matches every document.
func (d DocumentSelector) IsZero() bool { return d == DocumentSelector{} }

// FailureAction is what ensign does when a stage's canary fails.
type FailureAction string

// Failure actions.
const (
	// FailureRevert reverts the commit that introduced the failing version.
	FailureRevert FailureAction = "revert"
	// FailureReport only reports the failure (PR comment, log, Kubernetes
	// event); Git is not changed.
	FailureReport FailureAction = "report"
)

// Flux names the Flux objects that deliver a stage's overlay, in the stage
// canary's cluster, so ensign can ask them to reconcile right after a change.
type Flux struct {
	// Kustomization is the Flux Kustomization applying the overlay.
	Kustomization ObjectRef
	// GitRepository is the Flux source the Kustomization reads; the zero
	// value means not set.
	GitRepository ObjectRef
}

// ObjectRef names a namespaced Kubernetes object.
type ObjectRef struct {
	Namespace string
	Name      string
}

// IsZero reports whether the reference is unset.
func (o ObjectRef) IsZero() bool { return o == ObjectRef{} }

// Rollback configures how ensign answers a failed canary.
type Rollback struct {
	// Mode says whether a revert is pushed directly or opened as a PR.
	Mode Mode
	// AllowInDenyWindow lets a revert land while a deny window is active.
	// Defaults to true: a freeze must not keep a broken release in place.
	AllowInDenyWindow bool
	// NonFinalStages is the default OnFailure for stages that other stages
	// promote from. Defaults to FailureReport.
	NonFinalStages FailureAction
}

// Labels are the Gitea label names ensign applies to PRs.
type Labels struct {
	// Hold marks a PR a person has put on hold (/hold).
	Hold string
	// Queued marks a promotion PR waiting for a window.
	Queued string
	// Promotion marks every promotion PR ensign opens.
	Promotion string
	// Rollback marks every revert PR ensign opens.
	Rollback string
}
