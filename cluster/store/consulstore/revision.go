package consulstore

// Revisions are Consul raft indexes shifted left by revShift bits. A key's revision is its
// ModifyIndex<<revShift, so Get, Create, Update and watch Put events agree exactly. The low bits
// number the deletes the watch loop discovers: Consul reports no index for a delete, only that
// it happened at or before the LastIndex of the blocking query that no longer lists the key,
// and several deletes (and a put) can share that LastIndex. store.Hub needs strictly
// increasing revisions, so the i-th such delete gets LastIndex<<revShift + i.
const (
	revShift = 16
	lowMask  = 1<<revShift - 1
)

// revOf is the revision of a write at a Consul index.
func revOf(index uint64) int64 { return int64(index) << revShift }

// indexOf returns the Consul index of a key revision, or false when rev cannot be one (a
// delete's revision or a negative number).
func indexOf(rev int64) (uint64, bool) {
	if rev < 0 || rev&lowMask != 0 {
		return 0, false
	}
	return uint64(rev >> revShift), true
}

// listRev is the revision of a read at index: after every write and every numbered delete at
// that index, before any later write.
func listRev(index uint64) int64 { return int64(index)<<revShift | lowMask }

// deleteRev is the revision of the i-th delete (1-based) discovered at index.
func deleteRev(index uint64, i int) int64 {
	return int64(index)<<revShift | int64(min(i, lowMask))
}
