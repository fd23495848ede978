import CIavfShim
import CIavfShimFaults

/// The shim's fault injection (CIavfShimFaults, test-only): every wrapped libbpf call asks its hook.
enum ShimFaults {
    enum Operation: Sendable, CaseIterable {
        case open, load, attach, ringbufNew, ringbufPoll, mapLookup, mapUpdate, testRun, btfLoad
        var raw: iavfshim_op {
            switch self {
            case .open: return IAVFSHIM_OP_OPEN
            case .load: return IAVFSHIM_OP_LOAD
            case .attach: return IAVFSHIM_OP_ATTACH
            case .ringbufNew: return IAVFSHIM_OP_RINGBUF_NEW
            case .ringbufPoll: return IAVFSHIM_OP_RINGBUF_POLL
            case .mapLookup: return IAVFSHIM_OP_MAP_LOOKUP
            case .mapUpdate: return IAVFSHIM_OP_MAP_UPDATE
            case .testRun: return IAVFSHIM_OP_TEST_RUN
            case .btfLoad: return IAVFSHIM_OP_BTF_LOAD
            }
        }
    }
    /// The call of `op` after `skip` more successful ones fails with `errno` (once).
    static func inject(_ op: Operation, errno: Int32, skip: UInt32 = 0) {
        iavfshim_fault_set(op.raw, errno, skip)
    }
    static func reset() { iavfshim_fault_clear() }
    static func calls(_ op: Operation) -> UInt64 { iavfshim_call_count(op.raw) }
}
