// Package ringbuf owns Ring, a generic bounded FIFO that overwrites its
// oldest element when full and reports what it dropped. The reconciler keeps
// its recent transitions in one; the publisher's outbox has the same shape.
//
// A Ring is not safe for concurrent use: its owner holds the lock.
//
// ringbuf imports the standard library only; it must not import fleet or
// any other package of this module.
package ringbuf
