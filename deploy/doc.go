// Package deploy holds the container image (Dockerfile), the local stack (compose.yaml) and
// the Kubernetes manifests (k8s/base and k8s/overlays). It has no code: its test renders every
// kustomization and validates the objects against the Kubernetes API types and our own rules.
package deploy
