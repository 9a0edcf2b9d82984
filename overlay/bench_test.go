package overlay

import (
	"fmt"
	"testing"
)

// typicalKustomization is a production overlay of the size ensign edits
// all day: a few resources, patches and four images with comments.
const typicalKustomization = `# Production overlay for the shop.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop
resources:
  - ../../base/shop
  - ingress.yaml
  - hpa.yaml
commonLabels:
  env: production
patches:
  - path: patches/replicas.yaml
  - target:
      kind: Deployment
      name: api
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources/limits/memory
        value: 1Gi
images:
  - name: ghcr.io/acme/web # frontend
    newTag: "1.42.0"
  - name: ghcr.io/acme/api # backend
    newTag: "3.7.1"
    digest: sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  - name: ghcr.io/acme/worker
    newName: registry.internal/acme/worker
    newTag: "3.7.1"
  - name: redis
    newTag: "7.2"
`

const typicalStaging = `images:
  - name: ghcr.io/acme/web
    newTag: "1.43.0"
  - name: ghcr.io/acme/api
    newTag: "3.8.0"
  - name: ghcr.io/acme/worker
    newName: registry.internal/acme/worker
    newTag: "3.8.0"
  - name: redis
    newTag: "7.2"
`

func BenchmarkParse(b *testing.B) {
	data := []byte(typicalKustomization)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("k.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetImage measures one promotion edit as a caller does it: parse
// the file, set tag and clear digest, take the bytes.
func BenchmarkSetImage(b *testing.B) {
	data := []byte(typicalKustomization)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f, err := Parse("k.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		i++
		ch, err := f.SetImage(Image{Name: "ghcr.io/acme/api", NewTag: fmt.Sprintf("3.8.%d", i%100)}, FieldNewTag|FieldDigest)
		if err != nil || !ch.Changed() {
			b.Fatal(ch, err)
		}
	}
}

// BenchmarkSyncImages parses a staging and a production overlay and
// promotes all four images (three change).
func BenchmarkSyncImages(b *testing.B) {
	src, dst := []byte(typicalStaging), []byte(typicalKustomization)
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse("s.yaml", src)
		if err != nil {
			b.Fatal(err)
		}
		d, err := Parse("d.yaml", dst)
		if err != nil {
			b.Fatal(err)
		}
		changes, err := SyncImages(s, d, nil)
		if err != nil || len(changes) != 3 {
			b.Fatal(changes, err)
		}
	}
}

// BenchmarkSyncImagesNoop is the common "already promoted" case.
func BenchmarkSyncImagesNoop(b *testing.B) {
	src := []byte(typicalKustomization)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := Parse("s.yaml", src)
		d, _ := Parse("d.yaml", src)
		changes, err := SyncImages(s, d, nil)
		if err != nil || len(changes) != 0 {
			b.Fatal(changes, err)
		}
	}
}

const typicalRelease = `---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
spec:
  url: https://stefanprodan.github.io/podinfo
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
spec:
  chart:
    spec:
      chart: podinfo
      version: "6.x"
  values:
    replicaCount: 2
    image:
      repository: ghcr.io/stefanprodan/podinfo
      tag: 6.6.0   # promoted by ensign
`

func BenchmarkSetPath(b *testing.B) {
	data := []byte(typicalRelease)
	sel := Selector{Kind: "HelmRelease", Name: "podinfo"}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse("r.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if ch, err := f.SetPath(sel, "spec.values.image.tag", "6.7.0"); err != nil || !ch.Changed() {
			b.Fatal(ch, err)
		}
	}
}
