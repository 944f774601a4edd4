package podman

import (
	"context"
	"fmt"
)

// GraphRoot returns the directory of podman's image and container store
// (its info's store.graphRoot), for the host's "images" disk.
func (r *Runtime) GraphRoot(ctx context.Context) (string, error) {
	info, err := r.client.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("graph root: %w", err)
	}
	if info.GraphRoot == "" {
		return "", fmt.Errorf("graph root: podman reports none: %w", ErrAPI)
	}
	return info.GraphRoot, nil
}
