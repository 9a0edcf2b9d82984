// Package imageguard keeps Flux's image automation from undoing ensign's
// rollbacks. When an overlay's image line carries an image-automation setter
// marker (`# {"$imagepolicy": "ns:name"}`, or its `:tag`, `:name` and
// `:digest` variants), the ImagePolicy it names would write the failed tag
// back on its next run. The guard excludes exactly that tag in the
// ImageRepository the policy scans (`spec.exclusionList`), and lifts that
// exclusion again when a person promotes the version.
//
// It owns: parsing setter markers (outside input), finding the setters of a
// stage's overlay that drive a failing image, finding the ImagePolicy and
// ImageRepository manifests in the repository tree, and editing an
// ImageRepository's exclusionList byte for byte (every other byte of the
// file stays as written; flow style and anchors are refused). ensign's own
// entries carry a trailing comment starting "ensign:" so they can be found
// and removed again; entries written by people are never touched.
//
// When the objects are not in the repository, Exclude reports them as
// Remote and the caller patches the cluster (package cluster); the list
// arithmetic for that (AddPattern, RemovePattern) is here too.
//
// The tree functions are pure: no clients, no clocks (times and notes come
// in as arguments), and the tree they read and edit is the caller's. The
// *InCluster functions act only through the Repos the caller passes, and
// mark ensign's entries in an annotation (cluster.ExclusionNotesAnnotation)
// since a cluster object has no comments. Safe for concurrent use on
// different trees.
package imageguard
