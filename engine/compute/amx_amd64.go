//go:build amd64 && !purego

package compute

import (
	"os"
	"syscall"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_amx.go

// haveAMX reports whether the AMX kernels can run here: the CPU has AMX
// tiles with bfloat16 products (and AVX512-BF16, which rounds X), and
// Linux has granted this process the tile data state. STRATA_AMX=off
// turns them off (SgemmBF16BF16 then runs on VDPBF16PS).
var haveAMX = cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && haveDPBF16 &&
	os.Getenv("STRATA_AMX") != "off" && amxPermit()

// amxPermit asks Linux for the AMX tile data state (arch_prctl
// ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): without it the first tile
// instruction would raise SIGILL. The permission is the process's, so
// every thread has it once one asked.
func amxPermit() bool {
	const (
		sysArchPrctl      = 158
		archReqXcompPerm  = 0x1023
		xfeatureXtiledata = 18
	)
	_, _, errno := syscall.RawSyscall(sysArchPrctl, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}

//go:noescape
func amxTiles2(cfg *byte, groups, k32 int, w *uint16, ldw int, xp *uint16, xblk int, out *float32, pf *uint16)

//go:noescape
func amxTiles1(cfg *byte, groups, k32 int, w *uint16, ldw int, xp *uint16, xblk int, out *float32, pf *uint16)

//go:noescape
func transpose16(dst *uint32, ldd int, src *uint32, lds int, rows int)

//go:noescape
func packPairs32(dst0, dst1 *uint16, src *uint16, lds int, n int, idx *uint16)
