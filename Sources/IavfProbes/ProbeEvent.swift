import CIavfEvents
import CIavfShim
import IavfModel
#if canImport(Glibc)
import Glibc
#endif

/// What a record was taken at (bpf/iavf_events.h `enum iavf_ev_kind`).
public enum ProbeEventKind: UInt16, Sendable, CaseIterable {
    case addVid = 1, killVid, addVlans, delVlans, send, reply, down, open, close, upComplete, reset, snapshot, bench

    /// The `ev` of trace-format.md, or nil for records the trace has no kind for
    /// (`add_vlans`/`del_vlans` only carry snapshots; `bench` is synthetic).
    public var traceName: String? {
        switch self {
        case .addVid: return "add_vid"
        case .killVid: return "kill_vid"
        case .send: return "send"
        case .reply: return "reply"
        case .down: return "down"
        case .open: return "open"
        case .close: return "close"
        case .upComplete: return "up_complete"
        case .reset: return "reset"
        case .snapshot: return "snapshot"
        case .addVlans, .delVlans, .bench: return nil
        }
    }

    /// The kernel function the record comes from.
    public var function: String? {
        switch self {
        case .addVid: return "iavf_vlan_rx_add_vid"
        case .killVid: return "iavf_vlan_rx_kill_vid"
        case .addVlans: return "iavf_add_vlans"
        case .delVlans: return "iavf_del_vlans"
        case .send: return "iavf_send_pf_msg"
        case .reply: return "iavf_virtchnl_completion"
        case .down: return "iavf_down"
        case .open: return "iavf_open"
        case .close: return "iavf_close"
        case .upComplete: return "iavf_up_complete"
        case .reset: return "iavf_reset_task"
        case .snapshot, .bench: return nil
        }
    }
}

public enum ProbePhase: UInt8, Sendable {
    case none = 0, enter = 1, exit = 2
    /// `"enter"`/`"exit"` as in trace-format.md.
    public var traceName: String? {
        switch self {
        case .none: return nil
        case .enter: return "enter"
        case .exit: return "exit"
        }
    }
}

/// One adapter. `key` is the adapter's kernel address (stable while it exists).
public struct ProbeDevice: Hashable, Sendable {
    public var key: UInt64
    public var ifindex: Int32
    public var ifname: String
    /// PCI address, e.g. "0000:41:01.0", or "" when unknown.
    public var bus: String
    /// The trace's `dev`: the PCI address when known, else the netdev name.
    public var traceName: String { bus.isEmpty ? ifname : bus }
}

// (vid, tpid) keys are the model's `VlanKey`: one key type from the probes to the checker.
@_exported import struct IavfModel.VlanKey

public struct SnapshotFilter: Hashable, Sendable {
    public var vid: UInt16
    public var tpid: UInt16
    /// The raw `enum iavf_vlan_state_t` value.
    public var stateValue: UInt32
    /// The enumerator's name without `IAVF_VLAN_` (from BTF), nil if unknown.
    public var state: String?
}

public struct ProbeSnapshot: Sendable {
    /// The function record the snapshot belongs to, and the event's phase.
    public var at: ProbeEventKind?
    public var count: Int32
    public var filters: [SnapshotFilter]
    public var truncated: Bool
    public var readError: Bool
    /// `num_vlan_filters` changed while the list was walked without its lock: not a
    /// consistent picture of the list.
    public var torn: Bool = false
    public var adapterState: UInt32
    public var aqRequired: UInt64
    public var currentOp: UInt32
    public var adapterFlags: UInt32
    public var vfCapFlags: UInt32
    public var maxFilters: UInt16
    public var filteringOuter: UInt32
    public var filteringInner: UInt32

    /// V1 (VIRTCHNL_VF_OFFLOAD_VLAN, bit 16) or V2 (bit 15) as the snapshot saw the caps.
    public var vlanMode: VlanMode? {
        if vfCapFlags & (1 << 16) != 0 { return .v1 }
        if vfCapFlags & (1 << 15) != 0 { return .v2 }
        return nil
    }
}

public struct ProbeSend: Sendable {
    public var op: UInt32
    public var opName: String?
    public var messageLength: UInt16
    public var numElements: UInt16
    /// Decoded VIDs in message order; V1 messages carry tpid 0x8100 (33024).
    public var vids: [VlanKey]
    /// 1 or 2 for VLAN messages, nil for every other op.
    public var vlanVersion: Int?
    public var truncated: Bool
    public var readError: Bool
}

public enum ProbePayload: Sendable {
    case none
    case vid(VlanKey)
    indirect case send(ProbeSend)
    case reply(op: UInt32, opName: String?, retval: Int32)
    indirect case snapshot(ProbeSnapshot)
    case bench(seq: UInt64, value: UInt64)
}

/// One decoded ring buffer record.
public struct ProbeEvent: Sendable {
    public var kind: ProbeEventKind
    public var phase: ProbePhase
    public var cpu: UInt16
    public var pid: UInt32
    public var tid: UInt32
    /// CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns), the trace's `t_ns`.
    public var timestampNs: UInt64
    /// The producing CPU's drop counter when the record was made.
    public var cpuDrops: UInt64
    public var device: ProbeDevice
    /// Return value at the exit of a function returning int (errno as negative int).
    public var ret: Int32?
    /// Made by the selftest program, not by iavf.
    public var synthetic: Bool
    public var payload: ProbePayload
}

/// What the stream delivers: events, and a `lost` marker where records were dropped.
public enum ProbeStreamItem: Sendable {
    case event(ProbeEvent)
    /// `count` records were dropped before the next item (trace `lost`).
    case lost(count: UInt64)
}

public enum ProbeDecodeError: Error, Equatable, Sendable {
    case tooShort(size: Int)
    case sizeMismatch(header: Int, record: Int)
    case unknownKind(UInt16)
    case unknownPhase(UInt8)
}

/// Names for raw kernel enum values, from the running kernel's BTF.
public struct KernelNames: Sendable {
    /// `enum iavf_vlan_state_t` value -> name without `IAVF_VLAN_`.
    public var states: [UInt32: String]
    /// `enum virtchnl_ops` value -> name without `VIRTCHNL_OP_`.
    public var ops: [UInt32: String]

    public init(states: [UInt32: String] = [:], ops: [UInt32: String] = [:]) {
        self.states = states
        self.ops = ops
    }

    public static let empty = KernelNames()
}

/// Ring buffer record -> ProbeEvent. Pure: no kernel access, so unit tests feed it bytes.
/// A class: the pipeline calls it per record, and reading a struct held by the pipeline
/// copied (retained and released) its name tables and cache every time.
///
/// Not Sendable: it keeps a mutable cache of the last device, unlocked because it is on
/// the per-record path. One decoder belongs to one pipeline, used by the thread that polls.
public final class ProbeEventDecoder {
    public let names: KernelNames

    public init(names: KernelNames = .empty) { self.names = names }

    /// The last device decoded: records of one adapter repeat its names, and building two
    /// Strings per record was the consumer's largest cost (bench pipeline). The names are
    /// compared as C strings: BPF writes only up to the NUL, the bytes after it are
    /// whatever the ring buffer held before.
    private final class DeviceCache {
        var key: UInt64 = 0
        var ifindex: Int32 = 0
        var ifname = iavf_ev_hdr().ifname
        var bus = iavf_ev_hdr().bus
        var device: ProbeDevice?
    }
    private let deviceCache = DeviceCache()

    @inline(__always)
    private func device(_ h: UnsafeRawBufferPointer) -> ProbeDevice {
        let c = deviceCache
        let key = h.loadUnaligned(fromByteOffset: Self.devKeyOffset, as: UInt64.self)
        let ifindex = h.loadUnaligned(fromByteOffset: Self.ifindexOffset, as: Int32.self)
        let ifn = h.baseAddress!.advanced(by: Self.ifnameOffset).assumingMemoryBound(to: CChar.self)
        let bus = h.baseAddress!.advanced(by: Self.busOffset).assumingMemoryBound(to: CChar.self)
        if let d = c.device, c.key == key, c.ifindex == ifindex,
           withUnsafeBytes(of: &c.ifname, { strncmp($0.baseAddress!.assumingMemoryBound(to: CChar.self), ifn, Self.nameLength) == 0 }),
           withUnsafeBytes(of: &c.bus, { strncmp($0.baseAddress!.assumingMemoryBound(to: CChar.self), bus, Self.nameLength) == 0 }) {
            return d
        }
        let hdr = h.loadUnaligned(as: iavf_ev_hdr.self)
        let d = ProbeDevice(key: key, ifindex: ifindex, ifname: cString(hdr.ifname), bus: cString(hdr.bus))
        c.key = key
        c.ifindex = ifindex
        c.ifname = hdr.ifname
        c.bus = hdr.bus
        c.device = d
        return d
    }

    static var devKeyOffset: Int { Int(IAVF_EV_HDR_OFF_DEV_KEY) }
    static var ifindexOffset: Int { Int(IAVF_EV_HDR_OFF_IFINDEX) }
    static var ifnameOffset: Int { Int(IAVF_EV_HDR_OFF_IFNAME) }
    static var busOffset: Int { Int(IAVF_EV_HDR_OFF_BUS) }
    static var nameLength: Int { Int(IAVF_EV_NAME_LEN) }

    static var hdrSize: Int { Int(IAVF_EV_HDR_SIZE) }

    public func decode(_ buf: UnsafeRawBufferPointer) throws -> ProbeEvent {
        guard buf.count >= Self.hdrSize else { throw ProbeDecodeError.tooShort(size: buf.count) }
        let h = buf.loadUnaligned(as: iavf_ev_hdr.self)
        guard Int(h.size) == buf.count else {
            throw ProbeDecodeError.sizeMismatch(header: Int(h.size), record: buf.count)
        }
        guard let kind = ProbeEventKind(rawValue: h.kind) else { throw ProbeDecodeError.unknownKind(h.kind) }
        guard let phase = ProbePhase(rawValue: h.phase) else { throw ProbeDecodeError.unknownPhase(h.phase) }
        let flags = UInt32(h.flags)
        var ev = ProbeEvent(
            kind: kind, phase: phase, cpu: h.cpu, pid: h.pid, tid: h.tid,
            timestampNs: h.ts_ns, cpuDrops: h.cpu_drops,
            device: device(buf),
            ret: flags & UInt32(IAVF_EVF_HAS_RET) != 0 ? h.ret : nil,
            synthetic: flags & UInt32(IAVF_EVF_SYNTHETIC) != 0,
            payload: .none)

        func need(_ n: Int) throws {
            if buf.count < n { throw ProbeDecodeError.tooShort(size: buf.count) }
        }
        switch kind {
        case .addVid, .killVid:
            try need(MemoryLayout<iavf_ev_vid>.size)
            let r = buf.loadUnaligned(as: iavf_ev_vid.self)
            ev.payload = .vid(VlanKey(vid: r.vid, tpid: r.tpid))
        case .send:
            try need(MemoryLayout<iavf_ev_send>.size)
            ev.payload = .send(decodeSend(buf))
        case .reply:
            try need(MemoryLayout<iavf_ev_reply>.size)
            let r = buf.loadUnaligned(as: iavf_ev_reply.self)
            ev.payload = .reply(op: r.op, opName: names.ops[r.op], retval: r.retval)
        case .snapshot:
            try need(MemoryLayout<iavf_ev_snapshot>.size)
            ev.payload = .snapshot(decodeSnapshot(buf))
        case .bench:
            try need(MemoryLayout<iavf_ev_bench>.size)
            let r = buf.loadUnaligned(as: iavf_ev_bench.self)
            ev.payload = .bench(seq: r.seq, value: r.value)
        case .addVlans, .delVlans, .down, .open, .close, .upComplete, .reset:
            break
        }
        return ev
    }

    private func decodeSend(_ buf: UnsafeRawBufferPointer) -> ProbeSend {
        let off = MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.op)!
        let op = buf.loadUnaligned(fromByteOffset: off, as: UInt32.self)
        let msglen = buf.loadUnaligned(fromByteOffset: MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.msglen)!, as: UInt16.self)
        let num = buf.loadUnaligned(fromByteOffset: MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.num_elements)!, as: UInt16.self)
        let nvids = Int(min(buf.loadUnaligned(fromByteOffset: MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.nvids)!, as: UInt16.self), UInt16(IAVF_EV_MAX_VIDS)))
        let mflags = UInt32(buf.loadUnaligned(fromByteOffset: MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.msg_flags)!, as: UInt16.self))
        let vidOff = MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.vid)!
        let tpidOff = MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.tpid)!
        let v1 = mflags & UInt32(IAVF_SENDF_VLAN_V1) != 0
        let v2 = mflags & UInt32(IAVF_SENDF_VLAN_V2) != 0
        var vids: [VlanKey] = []
        vids.reserveCapacity(nvids)
        for i in 0..<nvids {
            let vid = buf.loadUnaligned(fromByteOffset: vidOff + 2 * i, as: UInt16.self)
            let tpid = v1 ? 0x8100 : buf.loadUnaligned(fromByteOffset: tpidOff + 2 * i, as: UInt16.self)
            vids.append(VlanKey(vid: vid, tpid: tpid))
        }
        return ProbeSend(op: op, opName: names.ops[op], messageLength: msglen, numElements: num, vids: vids,
                         vlanVersion: v1 ? 1 : (v2 ? 2 : nil),
                         truncated: mflags & UInt32(IAVF_SENDF_TRUNCATED) != 0,
                         readError: mflags & UInt32(IAVF_SENDF_READ_ERR) != 0)
    }

    private func decodeSnapshot(_ buf: UnsafeRawBufferPointer) -> ProbeSnapshot {
        // Copy the fixed part field by field; the filter array is read in place.
        let s = buf.loadUnaligned(as: iavf_ev_snapshot.self)
        let n = Int(min(s.nfilters, UInt32(IAVF_EV_MAX_FILTERS)))
        let fOff = MemoryLayout<iavf_ev_snapshot>.offset(of: \iavf_ev_snapshot.filters)!
        let fSize = MemoryLayout<iavf_ev_filter>.stride
        var filters: [SnapshotFilter] = []
        filters.reserveCapacity(n)
        for i in 0..<n {
            let f = buf.loadUnaligned(fromByteOffset: fOff + i * fSize, as: iavf_ev_filter.self)
            filters.append(SnapshotFilter(vid: f.vid, tpid: f.tpid, stateValue: f.state, state: names.states[f.state]))
        }
        return ProbeSnapshot(
            at: ProbeEventKind(rawValue: s.at_kind), count: s.count, filters: filters,
            truncated: UInt32(s.snap_flags) & UInt32(IAVF_SNAPF_TRUNCATED) != 0,
            readError: UInt32(s.snap_flags) & UInt32(IAVF_SNAPF_READ_ERR) != 0,
            torn: UInt32(s.snap_flags) & UInt32(IAVF_SNAPF_TORN) != 0,
            adapterState: s.adapter_state, aqRequired: s.aq_required, currentOp: s.current_op,
            adapterFlags: s.adapter_flags, vfCapFlags: s.vf_cap_flags, maxFilters: s.max_filters,
            filteringOuter: s.filtering_outer, filteringInner: s.filtering_inner)
    }
}

/// Turns the per-CPU drop counters carried in each record into `lost` markers.
public struct LossTracker: Sendable {
    private var seen: [UInt64] = []
    public private(set) var reported: UInt64 = 0

    public init() {}

    /// Records dropped on `event.cpu` since the last record seen from that CPU.
    @inline(__always)
    public mutating func observe(_ event: ProbeEvent) -> UInt64 {
        observe(cpu: Int(event.cpu), drops: event.cpuDrops)
    }

    @inline(__always)
    public mutating func observe(cpu: Int, drops: UInt64) -> UInt64 {
        if cpu >= seen.count { seen += [UInt64](repeating: 0, count: cpu + 1 - seen.count) }
        let last = seen[cpu]
        guard drops > last else { return 0 }
        seen[cpu] = drops
        reported += drops - last
        return drops - last
    }

    /// At the end: what the kernel counted in total minus what was already reported.
    public mutating func remainder(totalDrops: UInt64) -> UInt64 {
        guard totalDrops > reported else { return 0 }
        let r = totalDrops - reported
        reported = totalDrops
        return r
    }
}

@inline(__always)
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw -> String in
        guard let first = raw.first, first != 0 else { return "" }
        let end = raw.firstIndex(of: 0) ?? raw.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<end]), as: UTF8.self)
    }
}
