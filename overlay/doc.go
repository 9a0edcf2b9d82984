// Package overlay makes the file edits of a promotion on GitOps overlay files
// while keeping every byte it was not asked to change.
//
// It owns three kinds of edit:
//
//   - the Kustomize `images:` list of a kustomization.yaml ([File.Images],
//     [File.SetImage], [SyncImages]);
//   - a single scalar addressed by a YAML path, optionally in one document of a
//     multi-document file ([File.GetPath], [File.SetPath], [SyncPath]);
//   - copying listed files or a whole directory from one overlay to another
//     ([CopyFiles], [SyncDir]) through the small [Tree] interface.
//
// YAML is parsed with gopkg.in/yaml.v3 only to locate nodes; edits are splices
// of the original bytes, so comments, key order, indentation, quoting, blank
// lines, document separators, CRLF line endings and a missing final newline
// all survive. After every edit the result is parsed again and compared with
// the tree the edit was meant to produce (ignoring only style, comments and
// positions); an edit that would change anything else is refused and the
// [File] is left as it was. Inputs that cannot be edited safely (block
// scalars as values to replace, multi-line plain scalars, merge keys, nodes
// whose anchors are used by aliases) give an [*Error] wrapping
// [ErrUnsupported] instead of a guess.
//
// Concurrency: a [File] is not safe for concurrent use; distinct Files are
// independent. Package-level functions hold no state.
//
// State left behind: none. Functions never touch disk or network; a [Tree]
// implementation decides where copied files go.
package overlay
