package hostinfo

import "golang.org/x/sys/unix"

// statfs returns the total and free bytes (those an unprivileged user may
// use, as df shows them) of the file system holding path.
func statfs(path string) (total, free uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return st.Blocks * bs, st.Bavail * bs, nil
}
