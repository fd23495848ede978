import IavfModel
import Testing
@testable import IavfPF

/// The PF's answers, as ice gives them to an untrusted VF (iavf-vlan-state-machine.md §3, §6;
/// avf-device-emulation.md §4).
@Suite("PF policy: ice's answers to virtchnl requests")
struct PolicyTests {
    /// A VF after VERSION 1.1 and GET_VF_RESOURCES with iavf's caps request.
    func activeVF(_ configure: (inout PFPolicy) -> Void = { _ in }) -> VFState {
        var policy = PFPolicy()
        configure(&policy)
        let vf = VFState(index: 0, policy: policy)
        _ = vf.handle(op: VC.version, message: VersionInfo(major: 1, minor: 1).bytes)
        _ = vf.handle(op: VC.getVFResources, message: [0xF9, 0x80, 0xBD, 0x1A])
        return vf
    }

    func status(_ o: VFState.Outcome, _ op: UInt32) -> Int32? { o.messages.first { $0.op == op }?.status }

    func addV2(_ vf: VFState, _ vids: [UInt16]) -> Int32? {
        status(vf.handle(op: VC.addVlanV2, message: VlanFilterListV2(innerVIDs: vids).bytes), VC.addVlanV2)
    }

    @Test("VERSION: 1.1 to a 1.1 VF, 1.0 to a 1.0 VF")
    func version() {
        let vf = VFState(index: 0)
        let o = vf.handle(op: VC.version, message: VersionInfo(major: 1, minor: 1).bytes)
        #expect(o.messages == [PFMessage(op: VC.version, payload: VersionInfo(major: 1, minor: 1).bytes)])
        let old = VFState(index: 0)
        #expect(old.handle(op: VC.version, message: VersionInfo(major: 1, minor: 0).bytes).messages.first?.payload ==
                VersionInfo(major: 1, minor: 0).bytes)
        #expect(status(old.handle(op: VC.getVFResources, message: []), VC.getVFResources) == 0)
    }

    @Test("GET_VF_RESOURCES grants the intersection: V2 mode 0x8081, V1 mode 0x10081")
    func caps() {
        #expect(activeVF().grantedCaps == VFCap.l2 | VFCap.vlanV2 | VFCap.advLinkSpeed)
        #expect(activeVF { $0.vlanMode = .v1 }.grantedCaps == VFCap.l2 | VFCap.vlan | VFCap.advLinkSpeed)
        let vf = VFState(index: 2)
        _ = vf.handle(op: VC.version, message: VersionInfo(major: 1, minor: 1).bytes)
        let reply = vf.handle(op: VC.getVFResources, message: [0xF9, 0x80, 0xBD, 0x1A]).messages[0].payload
        #expect(VFResource(reply).mac == [0x02, 0, 0, 0, 0, 3])
        #expect(VFResource(reply).capFlags == 0x8081)
    }

    @Test("V2 caps report max_filters 8 untrusted, 4096 trusted")
    func v2Caps() {
        let o = activeVF().handle(op: VC.getOffloadVlanV2Caps, message: [])
        #expect(VlanCaps(o.messages[0].payload).maxFilters == 8)
        let t = activeVF { $0.trusted = true }.handle(op: VC.getOffloadVlanV2Caps, message: [])
        #expect(VlanCaps(t.messages[0].payload).maxFilters == 4096)
    }

    @Test("ADD_VLAN_V2: 8 fit; the 9th is ERR_PARAM and changes nothing")
    func v2Limit() {
        let vf = activeVF()
        #expect(addV2(vf, [100, 101, 102, 103]) == 0)
        #expect(addV2(vf, [104, 105, 106, 107]) == 0)
        #expect(vf.vlans.count == 8)
        #expect(addV2(vf, [108]) == VirtchnlStatus.errParam)
        #expect(vf.vlans.count == 8 && !vf.vlans.contains(VlanKey(vid: 108)))
    }

    @Test("ADD_VLAN_V2: PF-side count + num_elements > max is rejected whole (7 + 2)")
    func v2LimitWholeMessage() {
        let vf = activeVF()
        #expect(addV2(vf, Array(100...106)) == 0)
        #expect(addV2(vf, [107, 108]) == VirtchnlStatus.errParam)
        #expect(vf.vlans.count == 7)
    }

    @Test("DEL_VLAN_V2 of a VLAN the PF does not hold succeeds")
    func delAbsent() {
        let vf = activeVF()
        #expect(addV2(vf, [100]) == 0)
        let o = vf.handle(op: VC.delVlanV2, message: VlanFilterListV2(innerVIDs: [100, 200]).bytes)
        #expect(status(o, VC.delVlanV2) == 0)
        #expect(vf.vlans.isEmpty)
        #expect(o.vlanMessage)
    }

    @Test("ADD_VLAN_V2 with an unsupported filter is ERR_PARAM: outer tag, tci_mask, priority, S-tag, wrong vport")
    func v2Validation() {
        let vf = activeVF()
        let bad: [VlanFilterListV2] = [
            VlanFilterListV2(vportID: 1, filters: [.init(outer: VCVlan(tci: 100, tpid: 0x8100))]),
            VlanFilterListV2(vportID: 1, filters: [.init(inner: VCVlan(tci: 100, tciMask: 0xFFF, tpid: 0x8100))]),
            VlanFilterListV2(vportID: 1, filters: [.init(inner: VCVlan(tci: 0x2064, tpid: 0x8100))]),
            VlanFilterListV2(vportID: 1, filters: [.init(inner: VCVlan(tci: 100, tpid: 0x88A8))]),
            VlanFilterListV2(vportID: 2, innerVIDs: [100]),
        ]
        for list in bad {
            #expect(status(vf.handle(op: VC.addVlanV2, message: list.bytes), VC.addVlanV2) == VirtchnlStatus.errParam, "\(list)")
        }
        #expect(vf.vlans.isEmpty)
    }

    @Test("V1 (ice): VLAN 0 counts, so 7 are programmed and the 8th gets a silent SUCCESS")
    func v1SilentLimit() {
        let vf = activeVF { $0.vlanMode = .v1 }
        for vid in UInt16(1)...8 {
            let o = vf.handle(op: VC.addVlan, message: VlanFilterListV1(vids: [vid]).bytes)
            #expect(status(o, VC.addVlan) == 0)
        }
        #expect(vf.vlans.count == 7)
        #expect(!vf.vlans.contains(VlanKey(vid: 8)))
        let strict = activeVF { $0.vlanMode = .v1; $0.strictV1Limit = true }
        _ = strict.handle(op: VC.addVlan, message: VlanFilterListV1(vids: Array(1...7)).bytes)
        #expect(status(strict.handle(op: VC.addVlan, message: VlanFilterListV1(vids: [8]).bytes), VC.addVlan) == VirtchnlStatus.errParam)
    }

    @Test("V1: VID 4096 is ERR_PARAM; V1 messages to a V2 VF are ERR_PARAM")
    func v1Validation() {
        let vf = activeVF { $0.vlanMode = .v1 }
        #expect(status(vf.handle(op: VC.addVlan, message: VlanFilterListV1(vids: [100, 4096]).bytes), VC.addVlan) == VirtchnlStatus.errParam)
        #expect(vf.vlans.isEmpty)
        let v2 = activeVF()
        #expect(status(v2.handle(op: VC.addVlan, message: VlanFilterListV1(vids: [100]).bytes), VC.addVlan) == VirtchnlStatus.errParam)
    }

    @Test("before GET_VF_RESOURCES every configuration request is ERR_PARAM")
    func notActive() {
        let vf = VFState(index: 0)
        _ = vf.handle(op: VC.version, message: VersionInfo(major: 1, minor: 1).bytes)
        #expect(status(vf.handle(op: VC.addVlanV2, message: VlanFilterListV2(innerVIDs: [1]).bytes), VC.addVlanV2) == VirtchnlStatus.errParam)
        #expect(status(vf.handle(op: VC.enableQueues, message: QueueSelect(rxQueues: 1, txQueues: 1).bytes), VC.enableQueues) == VirtchnlStatus.errParam)
    }

    @Test("ENABLE_QUEUES: SUCCESS, then LINK_CHANGE up at 25000 Mbps; RESET_VF: no reply, reset requested")
    func enableAndReset() {
        let vf = activeVF()
        let o = vf.handle(op: VC.enableQueues, message: QueueSelect(rxQueues: 1, txQueues: 1).bytes)
        #expect(o.messages.map(\.op) == [VC.enableQueues, VC.event])
        #expect(o.messages[1].payload == PFEvent.linkChange(speed: 25000, up: true, advanced: true).bytes)
        #expect(status(vf.handle(op: VC.enableQueues, message: QueueSelect(rxQueues: 2, txQueues: 0).bytes), VC.enableQueues)
                == VirtchnlStatus.errParam)
        _ = addV2(vf, [100])
        let r = vf.handle(op: VC.resetVF, message: [])
        #expect(r.resetRequested && r.messages.isEmpty)
        vf.reset()
        #expect(vf.vlans.isEmpty && !vf.active)
    }

    @Test("malformed and unknown requests: ERR_PARAM (one reply, same opcode); unhandled known ones: NOT_SUPPORTED")
    func malformed() {
        let vf = activeVF()
        #expect(status(vf.handle(op: VC.addVlanV2, message: [1, 0, 1]), VC.addVlanV2) == VirtchnlStatus.errParam)
        #expect(status(vf.handle(op: 4242, message: [1, 2, 3]), 4242) == VirtchnlStatus.errParam)
        #expect(status(vf.handle(op: VC.requestQueues, message: [1, 0, 0, 0]), VC.requestQueues) == VirtchnlStatus.errNotSupported)
    }

    @Test("random driver input never traps and gets exactly one reply per request (except RESET_VF)")
    func fuzz() {
        var rng = SystemRandomNumberGenerator()
        let ops: [UInt32] = [0, 1, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 23, 24, 25, 26, 27, 28, 29,
                             51, 52, 53, 54, 55, 56, 57, 99, 0xFFFF_FFFF]
        for mode in VlanMode.allCases {
            let vf = activeVF { $0.vlanMode = mode }
            for _ in 0..<3000 {
                let op = ops.randomElement(using: &rng)!
                let len = [0, 2, 4, 6, 8, 12, 14, 16, 38, 40, 72, 136, Int.random(in: 0...300, using: &rng)].randomElement(using: &rng)!
                var msg = (0..<len).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if len >= 4 && Bool.random(using: &rng) { msg[2] = UInt8.random(in: 0...3, using: &rng); msg[3] = 0 }
                let o = vf.handle(op: op, message: msg)
                #expect(o.messages.filter { $0.op == op }.count == 1)
                #expect(vf.vlans.count <= 8)
            }
        }
    }
}
