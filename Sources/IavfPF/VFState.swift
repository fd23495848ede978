import IavfModel

/// How the emulated PF treats its VFs (ice's per-VF knobs).
public struct PFPolicy: Sendable, Equatable {
    /// Which VLAN interface the PF offers: v2 (VLAN_V2 + GET_OFFLOAD_VLAN_V2_CAPS, like ice) or v1.
    public var vlanMode: VlanMode = .v2
    /// V2 `max_filters` for an untrusted VF (ice: 8); a trusted VF gets 4096.
    public var maxFilters: Int = 8
    public var trusted = false
    /// V1 over the limit: ice replies SUCCESS without programming (false); strict replies ERR_PARAM.
    public var strictV1Limit = false
    public var queuePairs: UInt16 = 1
    public var maxVectors: UInt16 = 5
    public var maxMTU: UInt16 = 9728
    public var linkSpeedMbps: UInt32 = 25000
    /// ice's limit on MAC filters for an untrusted VF.
    public var maxMACs = 18
    /// `ip link set PF vf N spoofchk on|off` (ice's default: on): a frame whose source MAC is
    /// not the VF's is dropped on Tx.
    public var spoofCheck = true
    /// `ip link set PF vf N vlan PVID` (0: none): the PF tags the VF's Tx with PVID, accepts
    /// only PVID on its Rx and strips it, so the VF sees untagged traffic.
    public var portVlan: UInt16 = 0

    public init() {}

    /// The V2 limit the PF reports and enforces.
    public var effectiveMaxFilters: Int { trusted ? 4096 : maxFilters }
    /// The V1 limit including the implicit VLAN 0 (ice counts it, so 7 non-zero VLANs fit).
    public var v1Limit: Int { trusted ? 4096 : 8 }
}

/// A descriptor ring the VF handed over in CONFIG_VSI_QUEUES.
public struct QueueRing: Equatable, Sendable {
    /// Guest-physical address of descriptor 0.
    public var base: UInt64
    /// Number of descriptors.
    public var count: Int
    /// Rx only: bytes per receive buffer (`databuffer_size`).
    public var bufferSize: Int
    /// Bytes per descriptor: 16 (Tx), 32 (Rx: 6.1 iavf always uses the 32-byte format).
    public var descriptorSize: Int
    public init(base: UInt64, count: Int, bufferSize: Int = 0, descriptorSize: Int) {
        self.base = base; self.count = count; self.bufferSize = bufferSize; self.descriptorSize = descriptorSize
    }
    /// The bytes the ring occupies.
    public var span: Range<UInt64> { base..<(base &+ UInt64(count * descriptorSize)) }
}

/// One message to the VF: a reply (same opcode as the request) or an event.
public struct PFMessage: Equatable, Sendable {
    public var op: UInt32
    public var status: Int32
    public var payload: [UInt8]
    public init(op: UInt32, status: Int32 = VirtchnlStatus.success, payload: [UInt8] = []) {
        self.op = op; self.status = status; self.payload = payload
    }
    public static func event(_ e: PFEvent) -> PFMessage { PFMessage(op: VC.event, payload: e.bytes) }
}

/// The PF side of one VF: what ice keeps per VF and how it answers each virtchnl request.
/// Pure logic (no device access): `handle` takes a request and returns the replies.
public final class VFState {
    public let index: Int
    public var policy: PFPolicy
    public let mac: [UInt8]

    public private(set) var vfVersion: VersionInfo?
    /// ice's ICE_VF_STATE_ACTIVE: set by GET_VF_RESOURCES, cleared by a reset.
    public private(set) var active = false
    public private(set) var grantedCaps: UInt32 = 0
    /// The VLANs the PF has programmed for this VF (non-zero VIDs only, as (vid, tpid)).
    public private(set) var vlans = Set<VlanKey>()
    public private(set) var macs: [[UInt8]] = []
    public private(set) var queuesConfigured = false
    public private(set) var enabledRx: UInt32 = 0
    public private(set) var enabledTx: UInt32 = 0
    public private(set) var irqMap: [IRQMapInfo.Entry] = []
    /// Tx and Rx rings from CONFIG_VSI_QUEUES, by queue.
    public private(set) var txRings: [Int: QueueRing] = [:]
    public private(set) var rxRings: [Int: QueueRing] = [:]
    public private(set) var strippingV2 = false
    /// V1 stripping: ice turns it on with GET_VF_RESOURCES; (DIS|EN)ABLE_VLAN_STRIPPING toggle it.
    public private(set) var strippingV1 = false
    public private(set) var insertionV2 = false
    public private(set) var promiscFlags: UInt16 = 0
    /// The PF's view of the port link (the test flips it with a fault).
    public var linkUp = true
    /// Messages handled since the last reset, by opcode.
    public private(set) var counts: [UInt32: Int] = [:]

    public init(index: Int, policy: PFPolicy = PFPolicy(), mac: [UInt8]? = nil) {
        self.index = index
        self.policy = policy
        self.mac = mac ?? [0x02, 0x00, 0x00, 0x00, 0x00, UInt8(truncatingIfNeeded: index + 1)]
    }

    public struct Outcome: Equatable, Sendable {
        public var messages: [PFMessage] = []
        /// RESET_VF: the PF must now reset the VF (no reply).
        public var resetRequested = false
        /// A VLAN message was handled (the programmed set may have changed).
        public var vlanMessage = false
        /// What a PF log would say (ice's dev_info/dev_err lines, in our words).
        public var notes: [String] = []
    }

    public var vlanV2Granted: Bool { grantedCaps & VFCap.vlanV2 != 0 }
    public var vlanV1Granted: Bool { grantedCaps & VFCap.vlan != 0 }
    public var vsiID: UInt16 { 1 }

    /// The caps reply to GET_OFFLOAD_VLAN_V2_CAPS.
    public var vlanCaps: VlanCaps { VlanCaps(maxFilters: UInt16(clamping: policy.effectiveMaxFilters)) }

    /// What ice forgets on any VF reset (VFLR, RESET_VF, PF-initiated).
    public func reset() {
        active = false
        grantedCaps = 0
        vlans.removeAll()
        macs.removeAll()
        queuesConfigured = false
        enabledRx = 0; enabledTx = 0
        irqMap.removeAll()
        txRings.removeAll()
        rxRings.removeAll()
        strippingV2 = false; insertionV2 = false; strippingV1 = false
        promiscFlags = 0
        counts.removeAll()
    }

    /// Handles one request; never traps on driver input.
    public func handle(op: UInt32, message m: [UInt8]) -> Outcome {
        var out = Outcome()
        counts[op, default: 0] += 1
        func reply(_ status: Int32, _ payload: [UInt8] = []) { out.messages.append(PFMessage(op: op, status: status, payload: payload)) }
        func param(_ why: String) { out.notes.append(why); reply(VirtchnlStatus.errParam) }

        switch VirtchnlValidator.validate(op: op, message: m, vfMinor: vfVersion?.minor ?? 1) {
        case .valid: break
        case .badLength(let expected):
            param("invalid message: opcode \(op) (\(VC.name(op))) length \(m.count)" +
                  (expected.map { ", expected \($0)" } ?? ", zero count"))
            return out
        case .unknownOpcode:
            param("invalid message: unknown opcode \(op), length \(m.count)")
            return out
        }

        switch op {
        case VC.version:
            let v = VersionInfo(m)
            vfVersion = v
            // ice answers 1.1, or 1.0 to a 1.0 VF (no caps in GET_VF_RESOURCES then).
            let minor: UInt32 = (v.major > 1 || (v.major == 1 && v.minor >= 1)) ? 1 : 0
            reply(VirtchnlStatus.success, VersionInfo(major: 1, minor: minor).bytes)
            return out
        case VC.resetVF:
            out.resetRequested = true
            return out
        case VC.getVFResources:
            let requested: UInt32 = m.count == 4 ? ByteReader(m).u32(0) : (VFCap.l2 | VFCap.rssReg | VFCap.vlan)
            var offered = VFCap.l2 | VFCap.advLinkSpeed
            offered |= policy.vlanMode == .v2 ? VFCap.vlanV2 : VFCap.vlan
            grantedCaps = requested & offered
            if grantedCaps & VFCap.vlanV2 == 0 && policy.vlanMode == .v2 && requested & VFCap.vlan != 0 {
                // a VF that cannot do V2 gets V1, as ice does in single VLAN mode
                grantedCaps |= VFCap.vlan
            }
            var res = VFResource()
            res.numQueuePairs = policy.queuePairs
            res.maxVectors = policy.maxVectors
            res.maxMTU = policy.maxMTU
            res.capFlags = grantedCaps
            res.vsiID = vsiID
            res.mac = mac
            active = true
            strippingV1 = grantedCaps & VFCap.vlan != 0
            reply(VirtchnlStatus.success, res.bytes)
            return out
        default:
            break
        }

        guard active else {
            param("\(VC.name(op)) from VF \(index) before GET_VF_RESOURCES (VF not active)")
            return out
        }
        let r = ByteReader(m)

        switch op {
        case VC.getOffloadVlanV2Caps:
            guard vlanV2Granted else { param("VLAN_V2 not negotiated"); return out }
            reply(VirtchnlStatus.success, vlanCaps.bytes)

        case VC.configIRQMap:
            let map = IRQMapInfo(m)
            let queues = UInt16(truncatingIfNeeded: (1 << Int(policy.queuePairs)) - 1)
            for e in map.entries {
                if e.vsiID != vsiID { param("CONFIG_IRQ_MAP: vsi_id \(e.vsiID)"); return out }
                if e.vectorID >= policy.maxVectors { param("CONFIG_IRQ_MAP: vector \(e.vectorID) >= \(policy.maxVectors)"); return out }
                if e.vectorID == 0 && (e.rxqMap != 0 || e.txqMap != 0) { param("CONFIG_IRQ_MAP: queues on the mailbox vector"); return out }
                if (e.rxqMap | e.txqMap) & ~queues != 0 { param("CONFIG_IRQ_MAP: queue map beyond \(policy.queuePairs) pairs"); return out }
            }
            irqMap = map.entries
            reply(VirtchnlStatus.success)

        case VC.configVSIQueues:
            let cfg = VSIQueueConfig(m)
            if cfg.vsiID != vsiID { param("CONFIG_VSI_QUEUES: vsi_id \(cfg.vsiID)"); return out }
            if cfg.pairs.count > Int(policy.queuePairs) { param("CONFIG_VSI_QUEUES: \(cfg.pairs.count) pairs > \(policy.queuePairs)"); return out }
            for (i, p) in cfg.pairs.enumerated() {
                func ringOK(_ n: UInt32) -> Bool { n == 0 || (n >= 64 && n <= 8160 && n % 32 == 0) }
                if p.txVSI != vsiID || p.rxVSI != vsiID || Int(p.txQueue) != i || Int(p.rxQueue) != i {
                    param("CONFIG_VSI_QUEUES: pair \(i) names vsi \(p.txVSI)/\(p.rxVSI) queue \(p.txQueue)/\(p.rxQueue)"); return out
                }
                if p.txHeadWB != 0 || !ringOK(UInt32(p.txRingLen)) || !ringOK(p.rxRingLen) || p.rxSplitHdr != 0 {
                    param("CONFIG_VSI_QUEUES: pair \(i): unsupported ring settings"); return out
                }
                if p.rxRingLen != 0 && (p.rxBufSize == 0 || p.rxBufSize > 16 * 1024 - 128 ||
                                        p.rxMaxPkt < 64 || p.rxMaxPkt > UInt32(policy.maxMTU)) {
                    param("CONFIG_VSI_QUEUES: pair \(i): buffer \(p.rxBufSize), max packet \(p.rxMaxPkt)"); return out
                }
            }
            queuesConfigured = true
            for (i, p) in cfg.pairs.enumerated() {
                if p.txRingLen > 0 && p.txRing != 0 {
                    txRings[i] = QueueRing(base: p.txRing, count: Int(p.txRingLen), descriptorSize: 16)
                } else {
                    txRings[i] = nil
                }
                if p.rxRingLen > 0 && p.rxRing != 0 {
                    rxRings[i] = QueueRing(base: p.rxRing, count: Int(p.rxRingLen), bufferSize: Int(p.rxBufSize), descriptorSize: 32)
                } else {
                    rxRings[i] = nil
                }
            }
            reply(VirtchnlStatus.success)

        case VC.enableQueues, VC.disableQueues:
            let q = QueueSelect(m)
            let all = UInt32((1 << Int(policy.queuePairs)) - 1)
            if q.vsiID != vsiID { param("\(VC.name(op)): vsi_id \(q.vsiID)"); return out }
            if q.rxQueues == 0 && q.txQueues == 0 { param("\(VC.name(op)): no queues selected"); return out }
            if (q.rxQueues | q.txQueues) & ~all != 0 { param("\(VC.name(op)): queues beyond \(policy.queuePairs) pairs"); return out }
            if op == VC.enableQueues {
                enabledRx |= q.rxQueues; enabledTx |= q.txQueues
                reply(VirtchnlStatus.success)
                // ice reports the link right after the queues come up; iavf only honours it once
                // ENABLE_QUEUES has completed, so it must follow the reply.
                out.messages.append(linkEvent())
            } else {
                enabledRx &= ~q.rxQueues; enabledTx &= ~q.txQueues
                reply(VirtchnlStatus.success)
            }

        case VC.addEthAddr, VC.delEthAddr:
            let list = EtherAddrList(m)
            if list.vsiID != vsiID { param("\(VC.name(op)): vsi_id \(list.vsiID)"); return out }
            for e in list.entries {
                let zero = e.addr.allSatisfy { $0 == 0 }, bcast = e.addr.allSatisfy { $0 == 0xFF }
                if zero || bcast { continue }
                if op == VC.addEthAddr {
                    if macs.contains(e.addr) { continue }
                    if !policy.trusted && macs.count >= policy.maxMACs {
                        param("VF \(index) is not trusted: cannot add more than \(policy.maxMACs) MAC filters"); return out
                    }
                    macs.append(e.addr)
                } else {
                    macs.removeAll { $0 == e.addr }
                }
            }
            reply(VirtchnlStatus.success)

        case VC.configPromiscuousMode:
            if r.u16(0) != vsiID { param("CONFIG_PROMISCUOUS_MODE: vsi_id \(r.u16(0))"); return out }
            if !policy.trusted { out.notes.append("unprivileged VF \(index): promiscuous mode request ignored") }
            else { promiscFlags = r.u16(2) }
            reply(VirtchnlStatus.success)

        case VC.getStats:
            if r.u16(0) != vsiID { param("GET_STATS: vsi_id \(r.u16(0))"); return out }
            reply(VirtchnlStatus.success, [UInt8](repeating: 0, count: 96))

        case VC.addVlan, VC.delVlan:
            out.vlanMessage = true
            let list = VlanFilterListV1(m)
            guard vlanV1Granted else { param("\(VC.name(op)): VLAN (V1) not negotiated"); return out }
            if list.vsiID != vsiID { param("\(VC.name(op)): vsi_id \(list.vsiID)"); return out }
            if let bad = list.vids.first(where: { $0 >= 4096 }) { param("\(VC.name(op)): VLAN \(bad) out of range"); return out }
            if op == VC.addVlan {
                for vid in list.vids where vid != 0 {
                    let key = VlanKey(vid: vid, tpid: VlanKey.ctag)
                    if vlans.contains(key) { continue }
                    // ice counts the implicit VLAN 0 against the limit of 8
                    if vlans.count + 1 >= policy.v1Limit {
                        out.notes.append("VF \(index) is not trusted, switch the VF to trusted mode in order to add more VLANs (VLAN \(vid) not programmed)")
                        if policy.strictV1Limit { reply(VirtchnlStatus.errParam); return out }
                        break
                    }
                    vlans.insert(key)
                }
            } else {
                for vid in list.vids where vid != 0 { vlans.remove(VlanKey(vid: vid, tpid: VlanKey.ctag)) }
            }
            reply(VirtchnlStatus.success)

        case VC.addVlanV2, VC.delVlanV2:
            out.vlanMessage = true
            let list = VlanFilterListV2(m)
            guard vlanV2Granted else { param("\(VC.name(op)): VLAN_V2 not negotiated"); return out }
            if list.vportID != vsiID { param("\(VC.name(op)): vport_id \(list.vportID)"); return out }
            if let why = unsupportedFilter(list) { param("\(VC.name(op)): \(why)"); return out }
            if op == VC.addVlanV2 {
                let limit = policy.effectiveMaxFilters
                if vlans.count + list.filters.count > limit {
                    param("VF \(index) has \(vlans.count) VLANs + \(list.filters.count) requested > max_filters \(limit)")
                    return out
                }
                for f in list.filters where f.inner.vid != 0 {
                    vlans.insert(VlanKey(vid: f.inner.vid, tpid: f.inner.tpid))
                }
            } else {
                // deleting a VLAN the PF does not hold succeeds (ice)
                for f in list.filters where f.inner.vid != 0 {
                    vlans.remove(VlanKey(vid: f.inner.vid, tpid: f.inner.tpid))
                }
            }
            reply(VirtchnlStatus.success)

        case VC.enableVlanStripping, VC.disableVlanStripping:
            guard vlanV1Granted else { param("\(VC.name(op)): VLAN (V1) not negotiated"); return out }
            strippingV1 = op == VC.enableVlanStripping
            reply(VirtchnlStatus.success)

        case VC.enableVlanStrippingV2, VC.disableVlanStrippingV2, VC.enableVlanInsertionV2, VC.disableVlanInsertionV2:
            let s = VlanSetting(m)
            guard vlanV2Granted else { param("\(VC.name(op)): VLAN_V2 not negotiated"); return out }
            if s.vportID != vsiID { param("\(VC.name(op)): vport_id \(s.vportID)"); return out }
            let caps = vlanCaps
            let supported = (op == VC.enableVlanStrippingV2 || op == VC.disableVlanStrippingV2) ? caps.strippingInner : caps.insertionInner
            if s.outerEthertype != 0 || s.innerEthertype == 0 || s.innerEthertype & ~(supported & 0x7) != 0
                || s.innerEthertype.nonzeroBitCount != 1 {
                param("\(VC.name(op)): ethertype setting outer \(s.outerEthertype) inner \(s.innerEthertype) not supported"); return out
            }
            switch op {
            case VC.enableVlanStrippingV2: strippingV2 = true
            case VC.disableVlanStrippingV2: strippingV2 = false
            case VC.enableVlanInsertionV2: insertionV2 = true
            default: insertionV2 = false
            }
            reply(VirtchnlStatus.success)

        case VC.configRSSKey, VC.configRSSLUT, VC.setRSSHena, VC.getRSSHenaCaps:
            param("\(VC.name(op)): RSS_PF not negotiated")

        default:
            out.notes.append("\(VC.name(op)) not supported")
            reply(VirtchnlStatus.errNotSupported)
        }
        return out
    }

    /// ice's filter-list check against the caps: no outer tag (outer filtering is unsupported),
    /// no TCI mask (no FILTER_MASK), no priority bits (no PRIO), a TPID the caps allow.
    func unsupportedFilter(_ list: VlanFilterListV2) -> String? {
        let caps = vlanCaps
        for (i, f) in list.filters.enumerated() {
            if f.outer.isPresent && caps.filteringOuter == 0 { return "filter \(i): outer VLAN not supported" }
            if f.inner.isPresent && caps.filteringInner == 0 { return "filter \(i): inner VLAN not supported" }
            if f.inner.tciMask != 0 && caps.filteringInner & VlanSupport.filterMask == 0 { return "filter \(i): tci_mask not supported" }
            if f.inner.tci & 0xE000 != 0 && caps.filteringInner & VlanSupport.prio == 0 { return "filter \(i): priority not supported" }
            if f.inner.isPresent && !VlanSupport.tpidAllowed(f.inner.tpid, by: caps.filteringInner) {
                return "filter \(i): TPID 0x\(String(f.inner.tpid, radix: 16)) not supported"
            }
        }
        return nil
    }

    /// The MSI-X vector CONFIG_IRQ_MAP gave Tx queue `q` (nil: none).
    public func txVector(queue q: Int) -> Int? {
        irqMap.first { $0.vectorID != 0 && Int($0.txqMap) & (1 << q) != 0 }.map { Int($0.vectorID) }
    }

    /// The MSI-X vector CONFIG_IRQ_MAP gave Rx queue `q` (nil: none).
    public func rxVector(queue q: Int) -> Int? {
        irqMap.first { $0.vectorID != 0 && Int($0.rxqMap) & (1 << q) != 0 }.map { Int($0.vectorID) }
    }

    /// Whether the PF strips a received VLAN tag into the descriptor (L2TAG1) for this VF.
    public var rxStripping: Bool { vlanV2Granted ? strippingV2 : (vlanV1Granted ? strippingV1 : false) }

    /// The MAC addresses the VF may send from and receives unicast on: its assigned address
    /// and the ones it added (ADD_ETH_ADDR).
    public func owns(mac a: ArraySlice<UInt8>) -> Bool { a.elementsEqual(mac) || macs.contains { a.elementsEqual($0) } }

    /// LINK_CHANGE in the layout the VF negotiated.
    public func linkEvent() -> PFMessage {
        let adv = grantedCaps & VFCap.advLinkSpeed != 0
        return .event(.linkChange(speed: adv ? policy.linkSpeedMbps : PFEvent.legacySpeed25G, up: linkUp, advanced: adv))
    }

    /// The programmed set, sorted (for `pf` trace events).
    public var sortedVlans: [VlanKey] { vlans.sorted() }
}
