import CIavfEvents
import CIavfBenchConsumer
import CIavfShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The host pipeline self-test: selftest.bpf.c on raw_tp/sys_enter, fed by
/// prctl() calls of this process, through the same shim, ring buffer, drop
/// counter and decoder as the iavf probes. Needs root (or CAP_BPF+CAP_PERFMON),
/// but neither fentry, kprobes nor the iavf module.
public final class SelftestPipeline {
    public let pipeline: ProbePipeline
    public let program: BPFObject.Program
    /// Max records per trigger (ST_MAX_BURST in selftest.bpf.c).
    public static let maxBurst: UInt64 = 256
    public static let fakeMessageSize = Int(IAVF_FAKE_MSG_SIZE)

    public init(ringBufferBytes: UInt32 = 1 << 22, names: KernelNames = .selftest, attach: Bool = true) throws {
        let object = try BPFObject(elf: EmbeddedBPF.selftest, name: "iavf_selftest")
        typealias Names = BPFNames.selftest
        try object.setGlobal(Names.Global.target_tgid, UInt32(getpid()))
        try object.setGlobal(Names.Global.trigger_nr, UInt64(iavfshim_selftest_syscall_nr()))
        let ops = names.ops
        try object.setGlobal(Names.Global.op_add_v1, VirtchnlOps.value(of: "ADD_VLAN", in: ops) ?? 12)
        try object.setGlobal(Names.Global.op_del_v1, VirtchnlOps.value(of: "DEL_VLAN", in: ops) ?? 13)
        try object.setGlobal(Names.Global.op_add_v2, VirtchnlOps.value(of: "ADD_VLAN_V2", in: ops) ?? 52)
        try object.setGlobal(Names.Global.op_del_v2, VirtchnlOps.value(of: "DEL_VLAN_V2", in: ops) ?? 53)
        try object.setMaxEntries(map: Names.Map.events, ringBufferBytes)
        try object.load()
        guard let prog = object.program(Names.Program.st_sys_enter) else {
            throw ProbeError(operation: "find selftest program", errno: ENOENT)
        }
        program = prog
        pipeline = ProbePipeline(object: object, decoder: ProbeEventDecoder(names: names),
                                 events: Names.Map.events, drops: Names.Map.drops)
        if attach { try pipeline.attachAll() }
    }

    /// What one trigger makes selftest.bpf.c write (`enum iavf_selftest_mode`).
    public enum Mode: Sendable {
        /// `count` bench records carrying `param`.
        case bench
        /// `count` ADD_VID exit records: vid = param + i, ret = -i, tpid 0x8100.
        case vid
        /// One SEND record decoded from the fake message; param = op, count = message length.
        case send
        /// `count` REPLY records: op = param, retval = -i.
        case reply
        /// One SNAPSHOT of `param` entries of the fake filter array; count = num_vlan_filters.
        case snapshot
        /// One header-only record of kind `param` (down ... reset), phase exit, ret 0.
        case plain

        var raw: UInt64 {
            switch self {
            case .bench: return UInt64(IAVF_ST_BENCH.rawValue)
            case .vid: return UInt64(IAVF_ST_VID.rawValue)
            case .send: return UInt64(IAVF_ST_SEND.rawValue)
            case .reply: return UInt64(IAVF_ST_REPLY.rawValue)
            case .snapshot: return UInt64(IAVF_ST_SNAPSHOT.rawValue)
            case .plain: return UInt64(IAVF_ST_PLAIN.rawValue)
            }
        }
    }

    /// One prctl() the program turns into records.
    public func trigger(mode: Mode, param: UInt64 = 0, count: UInt64 = 1) {
        _ = iavfshim_selftest_trigger(mode.raw, param, count)
    }

    /// `count` bench records (up to maxBurst per call).
    public func triggerBench(count: UInt64, value: UInt64 = 0) { trigger(mode: .bench, param: value, count: count) }

    /// Put a virtchnl message (or a flat filter array) where the program reads it.
    public func setFakeMessage(_ bytes: [UInt8]) throws {
        var b = bytes
        if b.count < Self.fakeMessageSize { b += [UInt8](repeating: 0, count: Self.fakeMessageSize - b.count) }
        try pipeline.object.updateBytes(map: BPFNames.selftest.Map.fake_msg, bytes: Array(b.prefix(Self.fakeMessageSize)))
    }

    public func close() { pipeline.close() }
}

extension KernelNames {
    /// For the synthetic records: the protocol's op names and the patched state names in
    /// the patched numbering (synthetic records are not from a kernel enum).
    public static let selftest = KernelNames(
        states: [0: "INVALID", 1: "ADD", 2: "ADDING", 3: "ACTIVE", 4: "REMOVE", 5: "REMOVING"],
        ops: VirtchnlOps.protocolNames)
}

/// Builders for virtchnl VLAN messages (spec section 6), used by tests and the selftest.
public enum VirtchnlMessage {
    /// virtchnl_vlan_filter_list: vsi_id, num_elements, vlan_id[].
    public static func vlanV1(vids: [UInt16], vsi: UInt16 = 0) -> [UInt8] {
        var b: [UInt8] = []
        b += le(vsi); b += le(UInt16(vids.count))
        for v in vids { b += le(v) }
        return b
    }

    /// virtchnl_vlan_filter_list_v2 with each VLAN in `outer` (or `inner`).
    public static func vlanV2(_ vlans: [VlanKey], outer: Bool = true, vport: UInt16 = 0) -> [UInt8] {
        var b: [UInt8] = []
        b += le(vport); b += le(UInt16(vlans.count)); b += [0, 0, 0, 0]
        for v in vlans {
            let vlan = le(v.vid) + le(UInt16(0x0fff)) + le(v.tpid) + [0, 0]
            let empty = [UInt8](repeating: 0, count: 8)
            b += outer ? empty + vlan : vlan + empty
            b += [UInt8](repeating: 0, count: 16)
        }
        return b
    }

    /// A flat array of iavf_ev_filter for the selftest's SNAPSHOT mode.
    public static func filterArray(_ filters: [(vid: UInt16, tpid: UInt16, state: UInt32)]) -> [UInt8] {
        var b: [UInt8] = []
        for f in filters { b += le(f.vid) + le(f.tpid) + le32(f.state) }
        return b
    }

    static func le(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
}
