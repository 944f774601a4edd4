//go:build !linux

package hostinfo

import "errors"

// statfs is not implemented off Linux: disks are left out.
func statfs(string) (total, free uint64, err error) {
	return 0, 0, errors.New("hostinfo: statfs: not supported on this system")
}
