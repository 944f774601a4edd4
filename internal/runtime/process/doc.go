// Package process is the runtime.Runtime for deployments with runtime
// "process": plain programs started and supervised by the agent, without
// containers. It owns everything under its state directory (normally
// <state_dir>/process):
//
//	<deployment>.json    the pid file: device, deployment, pid, start_time
//	                     (field 22 of /proc/<pid>/stat), spec_hash,
//	                     grace_period_seconds, started_at and, once the
//	                     process has exited, exit_code and finished_at.
//	                     Written atomically (temp file, fsync, rename,
//	                     fsync of the directory).
//	<deployment>.log     stdout and stderr of the current run, truncated at
//	                     each start.
//	<deployment>.log.1   the previous segment of that log, kept when the log
//	                     outgrew Config.MaxLogBytes (see below).
//
// # Starting
//
// Apply starts command[0] (an absolute path, or a bare name looked up in
// the child's PATH) with the rest of the command as arguments, in
// working_dir when set. The environment is minimal and does not inherit the
// agent's: PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
// (BasePath), then the spec's env on top (a spec may override PATH). Stdin is
// /dev/null. Stdout and stderr are the log file itself, opened by the
// runtime with O_APPEND and handed to the child as its fds 1 and 2: no pipe
// runs through the agent, so the child never blocks on or dies with it. The
// child runs in its own session (setsid), so it is the leader of a process
// group whose id is its pid, and a signal to the agent's process group (a
// Ctrl-C, systemd stopping the agent) never reaches it.
//
// The child runs as the spec's user, else Config.DefaultUser: a user name
// (resolved through os/user, with its supplementary groups) or "uid:gid"
// (as is, no supplementary groups). An agent running as root sets the
// child's credentials (its own groups are dropped); an unprivileged agent
// runs children only as itself (ErrCannotSwitchUser otherwise). The log
// and the pid file stay the agent's: the child needs no access to the
// state directory, only to its program and working_dir (a working_dir it
// may not enter is named as such).
//
// # Stopping
//
// Remove, and Apply when it replaces a process with another spec hash or
// restarts an exited one, stop the whole process group: SIGTERM (followed by
// SIGCONT, so a SIGSTOPped process sees it), up to the grace period for
// every member of the group to exit, then SIGKILL. Apply uses the grace
// period recorded when the old process started. Nothing running is stopped
// unless its replacement can be recorded: before stopping the old process,
// Apply takes the room for the new pid file (a temporary file written to
// 4 KiB and synced), so a full or read-only state directory fails the
// replace with the reason and leaves the old process running, recorded as
// before. A program that leaves its
// process group (double-forks into a new session) escapes this; the agent's
// systemd cgroup still holds it.
//
// # Observing
//
// A process is running only when /proc/<pid>/stat exists, its start time
// matches the recorded one (so a reused pid is never mistaken for the
// workload, and never signalled), and it is not a zombie; a stopped
// (SIGSTOP, state T) process counts as running. For the processes this
// Runtime started (its children) a reaper goroutine waits for the exit
// (pidfd poll, /proc every 500ms where pidfd_open is unavailable), reaps the
// child and records its exit code: the status, or 128+signal when a signal
// killed it (137 for SIGKILL, as a shell and podman report it). The code and
// the finish time are kept in memory and in the pid file. The runtime never
// restarts a process by itself: restart policies are the agent's to apply,
// by calling Apply again.
//
// # When the agent stops and starts again
//
// Stopping the agent never stops workloads. Close stops the runtime's
// goroutines and waits for them; it does not signal any process. Because
// the children are session leaders writing straight into their log files,
// they keep running when the agent exits or is killed, and systemd is told
// not to kill them either (KillMode=process). They are reparented to init,
// which reaps them.
//
// A new Runtime over the same state directory (the agent's next run) adopts
// them from the pid files: the same pid, never restarted. A process still
// alive is reported running, and a goroutine watches it with a pidfd (or
// /proc every 500ms) so that Watch reports its exit; it is not the agent's
// child any more, so its exit code is unknown and reported as -1. A process
// that exited while the agent was away, or whose pid now names another
// process (a reboot, pid reuse), is reported exited with code -1 and no
// finish time, and the agent's restart policy decides. A corrupt pid file is
// logged, removed and treated as missing; it never stops the runtime. Only
// one Runtime may use a state directory at a time.
//
// # Log size
//
// The child writes its log directly, so the runtime checks the log sizes
// every Config.LogCheckInterval: a log bigger than MaxLogBytes is truncated
// to zero and its last MaxLogBytes/2 bytes (from a line start) are kept in
// <deployment>.log.1; O_APPEND makes the child's next write land at the new
// end. On disk a deployment's logs stay near 1.5 × MaxLogBytes plus what it
// writes between two checks. What the child writes in the instant between
// reading the tail and truncating is lost. LogTail reads across both files.
// Opening a deployment's log for a new run, capping it, reading its tail and
// deleting it hold that deployment's log lock (one of a few striped locks),
// so the tail quoted is always the current run's and Remove leaves no
// segment behind.
//
// # Concurrency
//
// Every goroutine (the reapers, the adopted-process watchers, the log
// capper) belongs to the Runtime and is waited for by Close. Watch runs in
// its caller's goroutine and calls changed there: a reaper only records a
// name in the watcher's pending set and wakes it, so a slow changed never
// blocks reaping.
//
// process imports the standard library, golang.org/x/sys/unix, fleet and
// internal/runtime only; it must not import zap, nats.go, viper or any other
// package of the agent. It is Linux-only (/proc, pidfd, setsid).
package process
