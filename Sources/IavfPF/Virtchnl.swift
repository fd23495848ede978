import IavfModel

/// The opcodes the emulated PF handles, as wire numbers; the table itself is IavfModel's
/// `VirtchnlOp` (one table for the trace, the probes and the PF).
public enum VC {
    public static let version: UInt32 = UInt32(VirtchnlOp.version.code)
    public static let resetVF: UInt32 = UInt32(VirtchnlOp.resetVF.code)
    public static let getVFResources: UInt32 = UInt32(VirtchnlOp.getVFResources.code)
    public static let configVSIQueues: UInt32 = UInt32(VirtchnlOp.configVSIQueues.code)
    public static let configIRQMap: UInt32 = UInt32(VirtchnlOp.configIRQMap.code)
    public static let enableQueues: UInt32 = UInt32(VirtchnlOp.enableQueues.code)
    public static let disableQueues: UInt32 = UInt32(VirtchnlOp.disableQueues.code)
    public static let addEthAddr: UInt32 = UInt32(VirtchnlOp.addEthAddr.code)
    public static let delEthAddr: UInt32 = UInt32(VirtchnlOp.delEthAddr.code)
    public static let addVlan: UInt32 = UInt32(VirtchnlOp.addVlan.code)
    public static let delVlan: UInt32 = UInt32(VirtchnlOp.delVlan.code)
    public static let configPromiscuousMode: UInt32 = UInt32(VirtchnlOp.configPromiscuousMode.code)
    public static let getStats: UInt32 = UInt32(VirtchnlOp.getStats.code)
    public static let event: UInt32 = UInt32(VirtchnlOp.event.code)
    public static let configRSSKey: UInt32 = UInt32(VirtchnlOp.configRSSKey.code)
    public static let configRSSLUT: UInt32 = UInt32(VirtchnlOp.configRSSLUT.code)
    public static let getRSSHenaCaps: UInt32 = UInt32(VirtchnlOp.getRSSHenaCaps.code)
    public static let setRSSHena: UInt32 = UInt32(VirtchnlOp.setRSSHena.code)
    public static let enableVlanStripping: UInt32 = UInt32(VirtchnlOp.enableVlanStripping.code)
    public static let disableVlanStripping: UInt32 = UInt32(VirtchnlOp.disableVlanStripping.code)
    public static let requestQueues: UInt32 = UInt32(VirtchnlOp.requestQueues.code)
    public static let getOffloadVlanV2Caps: UInt32 = UInt32(VirtchnlOp.getOffloadVlanV2Caps.code)
    public static let addVlanV2: UInt32 = UInt32(VirtchnlOp.addVlanV2.code)
    public static let delVlanV2: UInt32 = UInt32(VirtchnlOp.delVlanV2.code)
    public static let enableVlanStrippingV2: UInt32 = UInt32(VirtchnlOp.enableVlanStrippingV2.code)
    public static let disableVlanStrippingV2: UInt32 = UInt32(VirtchnlOp.disableVlanStrippingV2.code)
    public static let enableVlanInsertionV2: UInt32 = UInt32(VirtchnlOp.enableVlanInsertionV2.code)
    public static let disableVlanInsertionV2: UInt32 = UInt32(VirtchnlOp.disableVlanInsertionV2.code)

    /// The trace's name for an opcode ("ADD_VLAN_V2").
    public static func name(_ op: UInt32) -> String { VirtchnlOp.code(Int32(bitPattern: op)).name }

    /// An opcode by its name or number, for fault specs ("ADD_VLAN_V2", "52").
    public static func parse(_ text: String) -> UInt32? {
        if let n = UInt32(text) { return n }
        let op = VirtchnlOp.named(text.uppercased())
        return op.code > 0 ? UInt32(op.code) : nil
    }
}

/// `enum virtchnl_status_code`.
public enum VirtchnlStatus {
    public static let success: Int32 = 0
    public static let errParam: Int32 = -5
    public static let errNoMemory: Int32 = -18
    public static let errOpcodeMismatch: Int32 = -38
    public static let errCQPComplError: Int32 = -39
    public static let errInvalidVFID: Int32 = -40
    public static let errAdminQueueError: Int32 = -53
    public static let errNotSupported: Int32 = -64

    public static func name(_ s: Int32) -> String {
        switch s {
        case success: return "SUCCESS"
        case errParam: return "ERR_PARAM"
        case errNoMemory: return "ERR_NO_MEMORY"
        case errOpcodeMismatch: return "ERR_OPCODE_MISMATCH"
        case errCQPComplError: return "ERR_CQP_COMPL_ERROR"
        case errInvalidVFID: return "ERR_INVALID_VF_ID"
        case errAdminQueueError: return "ERR_ADMIN_QUEUE_ERROR"
        case errNotSupported: return "ERR_NOT_SUPPORTED"
        default: return "STATUS_\(s)"
        }
    }
}

/// `vf_cap_flags` bits.
public enum VFCap {
    public static let l2: UInt32 = 0x1
    public static let rssAQ: UInt32 = 0x8
    public static let rssReg: UInt32 = 0x10
    public static let wbOnITR: UInt32 = 0x20
    public static let reqQueues: UInt32 = 0x40
    public static let advLinkSpeed: UInt32 = 0x80
    public static let vlanV2: UInt32 = 0x8000
    public static let vlan: UInt32 = 0x10000
    public static let rssPF: UInt32 = 0x80000
}

/// `virtchnl_vlan_support` bits.
public enum VlanSupport {
    public static let ethertype8100: UInt32 = 0x1
    public static let ethertype88A8: UInt32 = 0x2
    public static let ethertype9100: UInt32 = 0x4
    public static let tagLocationL2TAG1: UInt32 = 0x100
    public static let tagLocationL2TAG2: UInt32 = 0x200
    public static let tagLocationL2TAG2_2: UInt32 = 0x400
    public static let prio: UInt32 = 1 << 24
    public static let filterMask: UInt32 = 1 << 28
    public static let and: UInt32 = 1 << 29
    public static let xor: UInt32 = 1 << 30
    public static let toggle: UInt32 = 1 << 31

    /// The TPID a filter's ethertype bit stands for.
    static func tpidAllowed(_ tpid: UInt16, by support: UInt32) -> Bool {
        switch tpid {
        case 0x8100: return support & ethertype8100 != 0
        case 0x88A8: return support & ethertype88A8 != 0
        case 0x9100: return support & ethertype9100 != 0
        default: return false
        }
    }
}

/// Request lengths as the PF's validator checks them (`virtchnl_vc_validate_vf_msg` semantics:
/// 6.1 still uses `[1]` arrays, so most list messages carry one extra trailing element).
public enum VirtchnlValidator {
    public enum Verdict: Equatable, Sendable {
        case valid
        /// Wrong length or a zero count: the PF answers ERR_PARAM.
        case badLength(expected: Int?)
        /// An opcode the validator does not know: ERR_PARAM too.
        case unknownOpcode
    }

    /// `vfMinor`: the minor version the VF announced (GET_VF_RESOURCES carries caps only from 1.1 on).
    public static func validate(op: UInt32, message m: [UInt8], vfMinor: UInt32) -> Verdict {
        let r = ByteReader(m)
        func exactly(_ n: Int) -> Verdict { m.count == n ? .valid : .badLength(expected: n) }
        /// fixed header + count * element, where `count` is read at `countAt` once the header fits.
        func list(header: Int, countAt: Int, element: Int, extra: Int = 0) -> Verdict {
            guard m.count >= header else { return .badLength(expected: header) }
            let n = Int(r.u16(countAt))
            if n == 0 { return .badLength(expected: nil) }
            return exactly(header + n * element + extra)
        }
        switch op {
        case VC.version: return exactly(8)
        case VC.resetVF: return exactly(0)
        case VC.getVFResources: return exactly(vfMinor >= 1 ? 4 : 0)
        case VC.configVSIQueues: return list(header: 72, countAt: 2, element: 64)
        case VC.configIRQMap: return list(header: 14, countAt: 0, element: 12)
        case VC.enableQueues, VC.disableQueues, VC.getStats: return exactly(12)
        case VC.addEthAddr, VC.delEthAddr: return list(header: 12, countAt: 2, element: 8)
        case VC.addVlan, VC.delVlan: return list(header: 6, countAt: 2, element: 2)
        case VC.configPromiscuousMode: return exactly(4)
        case VC.configRSSKey, VC.configRSSLUT:
            guard m.count >= 6 else { return .badLength(expected: 6) }
            return exactly(5 + Int(r.u16(2)))
        case VC.getRSSHenaCaps, VC.enableVlanStripping, VC.disableVlanStripping, VC.getOffloadVlanV2Caps:
            return exactly(0)
        case VC.setRSSHena: return exactly(8)
        case VC.requestQueues: return exactly(4)
        case VC.addVlanV2, VC.delVlanV2: return list(header: 40, countAt: 2, element: 32, extra: -32)
        case VC.enableVlanStrippingV2, VC.disableVlanStrippingV2, VC.enableVlanInsertionV2, VC.disableVlanInsertionV2:
            return exactly(16)
        default: return .unknownOpcode
        }
    }
}

// MARK: - Messages

public struct VersionInfo: Equatable, Sendable {
    public var major: UInt32
    public var minor: UInt32
    public init(major: UInt32, minor: UInt32) { self.major = major; self.minor = minor }
    public init(_ m: [UInt8]) { let r = ByteReader(m); major = r.u32(0); minor = r.u32(4) }
    public var bytes: [UInt8] { var w = ByteWriter(count: 8); w.u32(0, major); w.u32(4, minor); return w.bytes }
}

/// `virtchnl_vf_resource` with one `virtchnl_vsi_resource` (36 bytes).
public struct VFResource: Equatable, Sendable {
    public var numQueuePairs: UInt16 = 1
    public var maxVectors: UInt16 = 5
    public var maxMTU: UInt16 = 9728
    public var capFlags: UInt32 = 0
    public var rssKeySize: UInt32 = 52
    public var rssLUTSize: UInt32 = 64
    public var vsiID: UInt16 = 1
    public var vsiType: UInt32 = 6
    public var qsetHandle: UInt16 = 0
    public var mac: [UInt8] = [0x02, 0, 0, 0, 0, 1]

    public init() {}

    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        numQueuePairs = r.u16(2); maxVectors = r.u16(4); maxMTU = r.u16(6); capFlags = r.u32(8)
        rssKeySize = r.u32(12); rssLUTSize = r.u32(16)
        vsiID = r.u16(20); vsiType = r.u32(24); qsetHandle = r.u16(28); mac = (0..<6).map { r.u8(30 + $0) }
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(count: 36)
        w.u16(0, 1)                 // num_vsis
        w.u16(2, numQueuePairs); w.u16(4, maxVectors); w.u16(6, maxMTU); w.u32(8, capFlags)
        w.u32(12, rssKeySize); w.u32(16, rssLUTSize)
        w.u16(20, vsiID); w.u16(22, numQueuePairs); w.u32(24, vsiType); w.u16(28, qsetHandle)
        for (i, b) in mac.prefix(6).enumerated() { w.u8(30 + i, b) }
        return w.bytes
    }
}

/// `virtchnl_vlan_caps` (40 bytes).
public struct VlanCaps: Equatable, Sendable {
    public var filteringOuter: UInt32 = 0
    public var filteringInner: UInt32 = VlanSupport.ethertype8100
    public var filteringEthertypeInit: UInt32 = VlanSupport.ethertype8100
    public var maxFilters: UInt16 = 8
    public var strippingOuter: UInt32 = 0
    public var strippingInner: UInt32 = VlanSupport.toggle | VlanSupport.tagLocationL2TAG1 | VlanSupport.ethertype8100
    public var insertionOuter: UInt32 = 0
    public var insertionInner: UInt32 = VlanSupport.toggle | VlanSupport.tagLocationL2TAG1 | VlanSupport.ethertype8100
    public var offloadsEthertypeInit: UInt32 = VlanSupport.ethertype8100
    public var ethertypeMatch: UInt8 = 0

    /// ice's caps for an untrusted VF in single VLAN mode without a port VLAN.
    public init(maxFilters: UInt16 = 8) { self.maxFilters = maxFilters }

    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        filteringOuter = r.u32(0); filteringInner = r.u32(4); filteringEthertypeInit = r.u32(8); maxFilters = r.u16(12)
        strippingOuter = r.u32(16); strippingInner = r.u32(20); insertionOuter = r.u32(24); insertionInner = r.u32(28)
        offloadsEthertypeInit = r.u32(32); ethertypeMatch = r.u8(36)
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(count: 40)
        w.u32(0, filteringOuter); w.u32(4, filteringInner); w.u32(8, filteringEthertypeInit); w.u16(12, maxFilters)
        w.u32(16, strippingOuter); w.u32(20, strippingInner); w.u32(24, insertionOuter); w.u32(28, insertionInner)
        w.u32(32, offloadsEthertypeInit); w.u8(36, ethertypeMatch)
        return w.bytes
    }
}

/// `virtchnl_vlan`: tci, tci_mask, tpid (8 bytes with padding).
public struct VCVlan: Equatable, Sendable {
    public var tci: UInt16
    public var tciMask: UInt16
    public var tpid: UInt16
    public init(tci: UInt16 = 0, tciMask: UInt16 = 0, tpid: UInt16 = 0) { self.tci = tci; self.tciMask = tciMask; self.tpid = tpid }
    /// ice treats a VLAN as present when either field is set.
    public var isPresent: Bool { tci != 0 || tpid != 0 }
    public var vid: UInt16 { tci & 0x0FFF }
}

/// `virtchnl_vlan_filter_list_v2`: vport_id, num_elements, pad, then 32-byte filters.
public struct VlanFilterListV2: Equatable, Sendable {
    public struct Filter: Equatable, Sendable {
        public var inner: VCVlan
        public var outer: VCVlan
        public init(inner: VCVlan = VCVlan(), outer: VCVlan = VCVlan()) { self.inner = inner; self.outer = outer }
    }
    public var vportID: UInt16
    public var filters: [Filter]

    public init(vportID: UInt16, filters: [Filter]) { self.vportID = vportID; self.filters = filters }

    /// The driver's usual filter: inner C-tag with this VID.
    public init(vportID: UInt16 = 1, innerVIDs: [UInt16]) {
        self.init(vportID: vportID, filters: innerVIDs.map { Filter(inner: VCVlan(tci: $0, tpid: 0x8100)) })
    }

    /// Decodes `num_elements` filters (the length was validated before).
    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        vportID = r.u16(0)
        let n = Int(r.u16(2))
        filters = (0..<n).map { i in
            let o = 8 + 32 * i
            return Filter(inner: VCVlan(tci: r.u16(o), tciMask: r.u16(o + 2), tpid: r.u16(o + 4)),
                          outer: VCVlan(tci: r.u16(o + 8), tciMask: r.u16(o + 10), tpid: r.u16(o + 12)))
        }
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(count: 8 + 32 * filters.count)
        w.u16(0, vportID); w.u16(2, UInt16(filters.count))
        for (i, f) in filters.enumerated() {
            let o = 8 + 32 * i
            w.u16(o, f.inner.tci); w.u16(o + 2, f.inner.tciMask); w.u16(o + 4, f.inner.tpid)
            w.u16(o + 8, f.outer.tci); w.u16(o + 10, f.outer.tciMask); w.u16(o + 12, f.outer.tpid)
        }
        return w.bytes
    }
}

/// `virtchnl_vlan_filter_list` (V1): vsi_id, num_elements, vlan_id[].
public struct VlanFilterListV1: Equatable, Sendable {
    public var vsiID: UInt16
    public var vids: [UInt16]
    public init(vsiID: UInt16 = 1, vids: [UInt16]) { self.vsiID = vsiID; self.vids = vids }
    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        vsiID = r.u16(0)
        vids = (0..<Int(r.u16(2))).map { r.u16(4 + 2 * $0) }
    }
    /// As iavf sends it: with the `[1]` array's extra zero element (6 + 2n bytes).
    public var bytes: [UInt8] {
        var w = ByteWriter(count: 6 + 2 * vids.count)
        w.u16(0, vsiID); w.u16(2, UInt16(vids.count))
        for (i, v) in vids.enumerated() { w.u16(4 + 2 * i, v) }
        return w.bytes
    }
}

/// `virtchnl_ether_addr_list`.
public struct EtherAddrList: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var addr: [UInt8]
        public var type: UInt8
        public init(addr: [UInt8], type: UInt8) { self.addr = addr; self.type = type }
    }
    public var vsiID: UInt16
    public var entries: [Entry]
    public init(vsiID: UInt16 = 1, entries: [Entry]) { self.vsiID = vsiID; self.entries = entries }
    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        vsiID = r.u16(0)
        entries = (0..<Int(r.u16(2))).map { i in
            Entry(addr: (0..<6).map { r.u8(4 + 8 * i + $0) }, type: r.u8(4 + 8 * i + 6))
        }
    }
    /// 12 + 8n bytes, as iavf sends it.
    public var bytes: [UInt8] {
        var w = ByteWriter(count: 12 + 8 * entries.count)
        w.u16(0, vsiID); w.u16(2, UInt16(entries.count))
        for (i, e) in entries.enumerated() {
            for (j, b) in e.addr.prefix(6).enumerated() { w.u8(4 + 8 * i + j, b) }
            w.u8(4 + 8 * i + 6, e.type)
        }
        return w.bytes
    }
}

/// `virtchnl_queue_select`.
public struct QueueSelect: Equatable, Sendable {
    public var vsiID: UInt16
    public var rxQueues: UInt32
    public var txQueues: UInt32
    public init(vsiID: UInt16 = 1, rxQueues: UInt32, txQueues: UInt32) { self.vsiID = vsiID; self.rxQueues = rxQueues; self.txQueues = txQueues }
    public init(_ m: [UInt8]) { let r = ByteReader(m); vsiID = r.u16(0); rxQueues = r.u32(4); txQueues = r.u32(8) }
    public var bytes: [UInt8] { var w = ByteWriter(count: 12); w.u16(0, vsiID); w.u32(4, rxQueues); w.u32(8, txQueues); return w.bytes }
}

/// `virtchnl_irq_map_info`.
public struct IRQMapInfo: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var vsiID: UInt16, vectorID: UInt16, rxqMap: UInt16, txqMap: UInt16, rxITR: UInt16, txITR: UInt16
        public init(vsiID: UInt16 = 1, vectorID: UInt16, rxqMap: UInt16, txqMap: UInt16, rxITR: UInt16 = 0, txITR: UInt16 = 1) {
            self.vsiID = vsiID; self.vectorID = vectorID; self.rxqMap = rxqMap; self.txqMap = txqMap
            self.rxITR = rxITR; self.txITR = txITR
        }
    }
    public var entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }
    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        entries = (0..<Int(r.u16(0))).map { i in
            let o = 2 + 12 * i
            return Entry(vsiID: r.u16(o), vectorID: r.u16(o + 2), rxqMap: r.u16(o + 4), txqMap: r.u16(o + 6),
                         rxITR: r.u16(o + 8), txITR: r.u16(o + 10))
        }
    }
    /// 14 + 12n bytes.
    public var bytes: [UInt8] {
        var w = ByteWriter(count: 14 + 12 * entries.count)
        w.u16(0, UInt16(entries.count))
        for (i, e) in entries.enumerated() {
            let o = 2 + 12 * i
            w.u16(o, e.vsiID); w.u16(o + 2, e.vectorID); w.u16(o + 4, e.rxqMap); w.u16(o + 6, e.txqMap)
            w.u16(o + 8, e.rxITR); w.u16(o + 10, e.txITR)
        }
        return w.bytes
    }
}

/// `virtchnl_vsi_queue_config_info` with its `virtchnl_queue_pair_info` entries.
public struct VSIQueueConfig: Equatable, Sendable {
    public struct Pair: Equatable, Sendable {
        public var txVSI: UInt16, txQueue: UInt16, txRingLen: UInt16, txHeadWB: UInt16, txRing: UInt64
        public var rxVSI: UInt16, rxQueue: UInt16, rxRingLen: UInt32, rxSplitHdr: UInt16, rxBufSize: UInt32
        public var rxMaxPkt: UInt32, rxRing: UInt64
        public init(queue: UInt16, vsiID: UInt16 = 1, ringLen: UInt16 = 512, bufSize: UInt32 = 1536,
                    maxPkt: UInt32 = 1536, txRing: UInt64 = 0x1000_0000, rxRing: UInt64 = 0x1001_0000) {
            txVSI = vsiID; txQueue = queue; txRingLen = ringLen; txHeadWB = 0; self.txRing = txRing
            rxVSI = vsiID; rxQueue = queue; rxRingLen = UInt32(ringLen); rxSplitHdr = 0; rxBufSize = bufSize
            rxMaxPkt = maxPkt; self.rxRing = rxRing
        }
    }
    public var vsiID: UInt16
    public var pairs: [Pair]
    public init(vsiID: UInt16 = 1, pairs: [Pair]) { self.vsiID = vsiID; self.pairs = pairs }
    public init(_ m: [UInt8]) {
        let r = ByteReader(m)
        vsiID = r.u16(0)
        pairs = (0..<Int(r.u16(2))).map { i in
            let t = 8 + 64 * i, x = t + 24
            var p = Pair(queue: r.u16(t + 2))
            p.txVSI = r.u16(t); p.txRingLen = r.u16(t + 4); p.txHeadWB = r.u16(t + 6); p.txRing = r.u64(t + 8)
            p.rxVSI = r.u16(x); p.rxQueue = r.u16(x + 2); p.rxRingLen = r.u32(x + 4); p.rxSplitHdr = r.u16(x + 10)
            p.rxBufSize = r.u32(x + 12); p.rxMaxPkt = r.u32(x + 16); p.rxRing = r.u64(x + 24)
            return p
        }
    }
    /// 72 + 64n bytes.
    public var bytes: [UInt8] {
        var w = ByteWriter(count: 72 + 64 * pairs.count)
        w.u16(0, vsiID); w.u16(2, UInt16(pairs.count))
        for (i, p) in pairs.enumerated() {
            let t = 8 + 64 * i, x = t + 24
            w.u16(t, p.txVSI); w.u16(t + 2, p.txQueue); w.u16(t + 4, p.txRingLen); w.u16(t + 6, p.txHeadWB); w.u64(t + 8, p.txRing)
            w.u16(x, p.rxVSI); w.u16(x + 2, p.rxQueue); w.u32(x + 4, p.rxRingLen); w.u16(x + 10, p.rxSplitHdr)
            w.u32(x + 12, p.rxBufSize); w.u32(x + 16, p.rxMaxPkt); w.u64(x + 24, p.rxRing)
        }
        return w.bytes
    }
}

/// `virtchnl_vlan_setting` (stripping/insertion V2).
public struct VlanSetting: Equatable, Sendable {
    public var outerEthertype: UInt32
    public var innerEthertype: UInt32
    public var vportID: UInt16
    public init(outerEthertype: UInt32 = 0, innerEthertype: UInt32 = VlanSupport.ethertype8100, vportID: UInt16 = 1) {
        self.outerEthertype = outerEthertype; self.innerEthertype = innerEthertype; self.vportID = vportID
    }
    public init(_ m: [UInt8]) { let r = ByteReader(m); outerEthertype = r.u32(0); innerEthertype = r.u32(4); vportID = r.u16(8) }
    public var bytes: [UInt8] {
        var w = ByteWriter(count: 16); w.u32(0, outerEthertype); w.u32(4, innerEthertype); w.u16(8, vportID); return w.bytes
    }
}

/// `virtchnl_pf_event` (16 bytes).
public enum PFEvent: Equatable, Sendable {
    /// Speed in Mbps (the ADV_LINK_SPEED layout) when `advanced`, else the legacy enum value.
    case linkChange(speed: UInt32, up: Bool, advanced: Bool)
    case resetImpending

    public static let linkChangeCode: UInt32 = 1
    public static let resetImpendingCode: UInt32 = 2

    public var bytes: [UInt8] {
        var w = ByteWriter(count: 16)
        switch self {
        case let .linkChange(speed, up, advanced):
            w.u32(0, Self.linkChangeCode)
            // Both layouts (ADV: u32 Mbps + u8 status; legacy: enum + bool) put the speed at 4 and
            // the status at 8; only the meaning of the speed differs.
            _ = advanced
            w.u32(4, speed); w.u8(8, up ? 1 : 0)
            w.i32(12, 0)            // PF_EVENT_SEVERITY_INFO
        case .resetImpending:
            w.u32(0, Self.resetImpendingCode)
            w.i32(12, 255)          // PF_EVENT_SEVERITY_CERTAIN_DOOM
        }
        return w.bytes
    }

    /// The legacy `virtchnl_link_speed` value for 25 Gbps, used when ADV_LINK_SPEED is not granted.
    public static let legacySpeed25G: UInt32 = 0x40
}
