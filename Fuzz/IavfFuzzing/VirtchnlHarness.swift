#if canImport(Glibc)
import Glibc
#endif
import IavfModel
import IavfPF

// What the virtchnl fuzzer does with one input, shared with the regression tests: the bytes
// as a sequence of requests a guest VF sends, through the entry the emulator uses for every
// admin-queue message (`VFState.handle(op:message:)`, after the same VID decoding its log
// line does). The opcode is fuzzed too.
//
// Input layout: byte 0 picks the PF policy (bit 0: V1 mode, bit 1: trusted, bit 2: strict
// V1 limit); then records of [opcode selector][length lo][length hi][message]. A selector
// below `virtchnlOpcodes.count` names a known opcode, 0xFF takes the next 4 bytes (little endian) as
// a raw opcode, any other value is used as the opcode itself. A short last record is cut.

public let virtchnlOpcodes: [UInt32] = [
    VC.version, VC.resetVF, VC.getVFResources, VC.configVSIQueues, VC.configIRQMap, VC.enableQueues,
    VC.disableQueues, VC.addEthAddr, VC.delEthAddr, VC.addVlan, VC.delVlan, VC.configPromiscuousMode,
    VC.getStats, VC.event, VC.configRSSKey, VC.configRSSLUT, VC.getRSSHenaCaps, VC.setRSSHena,
    VC.enableVlanStripping, VC.disableVlanStripping, VC.requestQueues, VC.getOffloadVlanV2Caps,
    VC.addVlanV2, VC.delVlanV2, VC.enableVlanStrippingV2, VC.disableVlanStrippingV2,
    VC.enableVlanInsertionV2, VC.disableVlanInsertionV2,
]

/// Splits the input into (policy, requests) as described above.
public func decodeVirtchnlInput(_ b: UnsafeBufferPointer<UInt8>) -> (PFPolicy, [(op: UInt32, message: [UInt8])]) {
    var policy = PFPolicy()
    guard let first = b.first else { return (policy, []) }
    if first & 1 != 0 { policy.vlanMode = .v1 }
    policy.trusted = first & 2 != 0
    policy.strictV1Limit = first & 4 != 0
    var out: [(UInt32, [UInt8])] = []
    var i = 1
    while i < b.count {
        let sel = b[i]; i += 1
        var op = UInt32(sel)
        if Int(sel) < virtchnlOpcodes.count {
            op = virtchnlOpcodes[Int(sel)]
        } else if sel == 0xFF {
            guard i + 4 <= b.count else { break }
            op = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
            i += 4
        }
        guard i + 2 <= b.count else { break }
        let len = Int(b[i]) | Int(b[i + 1]) << 8
        i += 2
        let n = min(len, b.count - i)
        out.append((op, Array(b[i..<(i + n)])))
        i += n
    }
    return (policy, out)
}

/// Feeds the requests to a fresh VF as the emulator does; returns the replies' statuses.
@discardableResult
public func runVirtchnl(_ b: UnsafeBufferPointer<UInt8>) -> [Int32] {
    let (policy, requests) = decodeVirtchnlInput(b)
    let vf = VFState(index: 0, policy: policy)
    var statuses: [Int32] = []
    for (op, m) in requests {
        // The emulator's log decodes the VIDs of a valid VLAN message before handling it.
        switch op {
        case VC.addVlanV2, VC.delVlanV2:
            if case .valid = VirtchnlValidator.validate(op: op, message: m, vfMinor: 1) {
                _ = VlanFilterListV2(m).filters.map { VlanKey(vid: $0.inner.vid, tpid: $0.inner.tpid) }
            }
        case VC.addVlan, VC.delVlan:
            if case .valid = VirtchnlValidator.validate(op: op, message: m, vfMinor: 1) {
                _ = VlanFilterListV1(m).vids.map { VlanKey(vid: $0) }
            }
        default: break
        }
        let out = vf.handle(op: op, message: m)
        if out.resetRequested { vf.reset() }
        statuses += out.messages.map(\.status)
        // ice's limit: an untrusted VF never has more filters programmed than it may.
        precondition(vf.vlans.count <= max(policy.effectiveMaxFilters, policy.v1Limit),
                     "\(vf.vlans.count) VLANs programmed, limit \(policy.effectiveMaxFilters)")
    }
    return statuses
}

/// Seeds: a VF's bring-up and VLAN traffic, encoded with the PF's own codecs (as the PF tests do).
public func virtchnlSeeds() -> [(name: String, bytes: [UInt8])] {
    func rec(_ op: UInt32, _ m: [UInt8]) -> [UInt8] {
        let sel = UInt8(virtchnlOpcodes.firstIndex(of: op)!)
        return [sel, UInt8(m.count & 0xFF), UInt8(m.count >> 8)] + m
    }
    let version = rec(VC.version, VersionInfo(major: 1, minor: 1).bytes)
    let resources = rec(VC.getVFResources, [0xF9, 0x80, 0xBD, 0x1A])
    let bringUp = version + resources + rec(VC.getOffloadVlanV2Caps, [])
    let v2 = bringUp + rec(VC.addVlanV2, VlanFilterListV2(innerVIDs: [100, 101]).bytes)
        + rec(VC.delVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes)
    let full = bringUp + rec(VC.addVlanV2, VlanFilterListV2(innerVIDs: Array(100...108)).bytes)
    let v1 = version + resources + rec(VC.addVlan, VlanFilterListV1(vids: [5, 6]).bytes)
        + rec(VC.delVlan, VlanFilterListV1(vids: [5]).bytes)
    let queues = bringUp
        + rec(VC.configVSIQueues, VSIQueueConfig(pairs: [.init(queue: 0)]).bytes)
        + rec(VC.configIRQMap, IRQMapInfo(entries: [.init(vectorID: 1, rxqMap: 1, txqMap: 1)]).bytes)
        + rec(VC.enableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes)
        + rec(VC.disableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes)
    let offloads = bringUp + rec(VC.enableVlanStrippingV2, VlanSetting().bytes)
        + rec(VC.enableVlanInsertionV2, VlanSetting().bytes) + rec(VC.resetVF, [])
    let macs = bringUp + rec(VC.addEthAddr, EtherAddrList(entries: [.init(addr: [2, 0, 0, 0, 0, 9], type: 1)]).bytes)
    return [
        ("v2-add-del", [0] + v2), ("v2-over-limit", [0] + full), ("v1-add-del", [1] + v1),
        ("v1-trusted", [3] + v1), ("queues", [0] + queues), ("offloads-reset", [0] + offloads),
        ("macs", [0] + macs), ("raw-opcode", [0, 0xFF, 0x39, 0, 0, 0, 4, 0, 1, 2, 3, 4]),
    ]
}

