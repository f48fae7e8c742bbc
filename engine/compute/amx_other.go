//go:build !amd64 || purego

package compute

// haveAMX is false without the assembly.
const haveAMX = false

func amxTiles2(cfg *byte, groups, k32 int, w *uint16, ldw int, xp *uint16, xblk int, out *float32, pf *uint16) {
	panic("compute: no AMX kernel")
}

func amxTiles1(cfg *byte, groups, k32 int, w *uint16, ldw int, xp *uint16, xblk int, out *float32, pf *uint16) {
	panic("compute: no AMX kernel")
}

func transpose16(dst *uint32, ldd int, src *uint32, lds int, rows int) {
	panic("compute: no AMX kernel")
}

func packPairs32(dst0, dst1 *uint16, src *uint16, lds int, n int, idx *uint16) {
	panic("compute: no AMX kernel")
}
