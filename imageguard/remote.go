package imageguard

import (
	"context"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ensignbot/ensign/cluster"
)

// Repos reads and writes Flux ImageRepositories in clusters;
// *cluster.Set implements it.
type Repos interface {
	ImageRepositoryOf(ctx context.Context, cluster, namespace, name string) (cluster.ImageRepository, error)
	SetImageExclusions(ctx context.Context, r cluster.ImageRepository) error
}

// ExcludeInCluster excludes each Remote's tag in the ImageRepository its
// ImagePolicy scans in clusterName, noting why in the object's
// annotation. It returns the exclusions in force afterwards (added or
// already there) and why any Remote was left alone; an error is worth
// retrying (the API server failing), a refusal (no such object, not
// allowed) is a skip.
func ExcludeInCluster(ctx context.Context, repos Repos, clusterName string, remote []Remote, note string) ([]Exclusion, []string, error) {
	return inCluster(ctx, repos, clusterName, remote, func(r *cluster.ImageRepository, pattern string) (bool, error) {
		list, changed, err := AddPattern(r.Exclusions, r.HasList, pattern)
		if err != nil || !changed {
			return false, err
		}
		r.Exclusions = list
		r.Notes = maps.Clone(r.Notes)
		if r.Notes == nil {
			r.Notes = map[string]string{}
		}
		r.Notes[pattern] = oneLine(note)
		return true, nil
	})
}

// LiftInCluster removes ensign's exclusion of each Remote's tag from the
// ImageRepository its ImagePolicy scans in clusterName: only an entry
// ensign's annotation notes, never one a person added. It returns the
// exclusions lifted.
func LiftInCluster(ctx context.Context, repos Repos, clusterName string, remote []Remote) ([]Exclusion, []string, error) {
	return inCluster(ctx, repos, clusterName, remote, func(r *cluster.ImageRepository, pattern string) (bool, error) {
		if _, ours := r.Notes[pattern]; !ours || !slices.Contains(r.Exclusions, pattern) {
			return false, nil
		}
		r.Exclusions = slices.DeleteFunc(slices.Clone(r.Exclusions), func(s string) bool { return s == pattern })
		r.Notes = maps.Clone(r.Notes)
		delete(r.Notes, pattern)
		return true, nil
	})
}

func inCluster(ctx context.Context, repos Repos, clusterName string, remote []Remote, edit func(*cluster.ImageRepository, string) (bool, error)) ([]Exclusion, []string, error) {
	var out []Exclusion
	var skipped []string
	for _, rm := range remote {
		if rm.Namespace == "" {
			skipped = append(skipped, fmt.Sprintf("the setter marker %q names no namespace", rm.Name))
			continue
		}
		pattern := Pattern(rm.Image.Tag)
		for attempt := 0; ; attempt++ {
			r, err := repos.ImageRepositoryOf(ctx, clusterName, rm.Namespace, rm.Name)
			if cluster.Refused(err) {
				skipped = append(skipped, err.Error())
				break
			}
			if err != nil {
				return out, skipped, err
			}
			if r.Image != "" && !SameImage(r.Image, rm.Image.Name) || r.Image == "" && !rm.Verified {
				skipped = append(skipped, fmt.Sprintf("ImagePolicy %s/%s in %s scans %q, not %s", rm.Namespace, rm.Name, clusterName, r.Image, rm.Image.Name))
				break
			}
			ex := Exclusion{Policy: rm.Namespace + "/" + rm.Name, Repository: r.Namespace + "/" + r.Name, Tag: rm.Image.Tag, Pattern: pattern}
			changed, err := edit(&r, pattern)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("ImageRepository %s in %s: %v", ex.Repository, clusterName, err))
				break
			}
			ex.Note = r.Notes[pattern]
			if !changed {
				if slices.Contains(r.Exclusions, pattern) && r.Notes[pattern] != "" {
					out = append(out, ex) // already in force
				}
				break
			}
			err = repos.SetImageExclusions(ctx, r)
			if apierrors.IsConflict(err) && attempt < 3 {
				continue // written meanwhile: read it again
			}
			if cluster.Refused(err) {
				skipped = append(skipped, err.Error())
				break
			}
			if err != nil {
				return out, skipped, err
			}
			out = append(out, ex)
			break
		}
	}
	return out, skipped, nil
}

// RepoReader reads Flux ImageRepositories; *cluster.Set implements it.
type RepoReader interface {
	ImageRepositoryOf(ctx context.Context, cluster, namespace, name string) (cluster.ImageRepository, error)
}

// InForceInCluster lists ensign's exclusions in the ImageRepositories the
// Remote policies scan in clusterName.
func InForceInCluster(ctx context.Context, repos RepoReader, clusterName string, remote []Remote) ([]Exclusion, error) {
	var out []Exclusion
	seen := map[string]bool{}
	for _, rm := range remote {
		if rm.Namespace == "" {
			continue
		}
		r, err := repos.ImageRepositoryOf(ctx, clusterName, rm.Namespace, rm.Name)
		if err != nil {
			return out, err
		}
		key := r.Namespace + "/" + r.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, p := range r.Exclusions {
			tag, ok := TagOf(p)
			if note, ours := r.Notes[p]; ok && ours {
				out = append(out, Exclusion{Policy: rm.Namespace + "/" + rm.Name, Repository: key, Tag: tag, Pattern: p, Note: note})
			}
		}
	}
	return out, nil
}
