import Testing
@testable import IavfPF

/// Byte layouts of avf-device-emulation.md §3.1 (descriptor) and §4.2 (virtchnl structures).
@Suite("PF codecs: descriptor and virtchnl byte layouts")
struct CodecTests {
    func le16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    func le32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(le16(b, at)) | UInt32(le16(b, at + 2)) << 16 }

    @Test("descriptor: every field at its §3.1 offset, 32 bytes, round trip")
    func descriptorLayout() throws {
        var d = AQDescriptor()
        d.flags = 0x3400; d.opcode = 0x0801; d.datalen = 8; d.retval = 0x0102
        d.cookieHigh = 1; d.cookieLow = 0xFFFF_FFFB; d.param0 = 0x11; d.param1 = 0x22
        d.addrHigh = 0x1; d.addrLow = 0x7FF6_3000
        let b = d.bytes
        #expect(b.count == 32)
        #expect(le16(b, 0) == 0x3400)
        #expect(le16(b, 2) == 0x0801)
        #expect(le16(b, 4) == 8)
        #expect(le16(b, 6) == 0x0102)
        #expect(le32(b, 8) == 1)
        #expect(le32(b, 12) == 0xFFFF_FFFB)
        #expect(le32(b, 16) == 0x11)
        #expect(le32(b, 20) == 0x22)
        #expect(le32(b, 24) == 1)
        #expect(le32(b, 28) == 0x7FF6_3000)
        let back = try #require(AQDescriptor(bytes: b))
        #expect(back == d)
        #expect(back.bufferAddress == 0x1_7FF6_3000)
        #expect(back.virtchnlStatus == -5)
        #expect(AQDescriptor(bytes: Array(b.prefix(31))) == nil)
    }

    @Test("descriptor: the VERSION request the prototype saw (flags SI|BUF|RD, 0x0801, v_op 1)")
    func prototypeVersionDescriptor() throws {
        // flags=3400 opcode=0801 datalen=8 v_op=1, buffer at 0x7ff63000 (prototype run1)
        let raw: [UInt8] = [0x00, 0x34, 0x01, 0x08, 0x08, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x30, 0xF6, 0x7F]
        let d = try #require(AQDescriptor(bytes: raw))
        #expect(d.flags == AQDescriptor.Flag.si | AQDescriptor.Flag.buf | AQDescriptor.Flag.rd)
        #expect(d.opcode == AQDescriptor.Opcode.sendToPF)
        #expect(d.cookieHigh == VC.version)
        #expect(d.bufferAddress == 0x7FF6_3000)
    }

    @Test("register offsets of §2")
    func registers() {
        #expect(AVFRegister.atqH == 0x6400 && AVFRegister.atqT == 0x8400 && AVFRegister.atqLen == 0x6800)
        #expect(AVFRegister.arqH == 0x7400 && AVFRegister.arqT == 0x7000 && AVFRegister.arqLen == 0x8000)
        #expect(AVFRegister.atqBAL == 0x7C00 && AVFRegister.atqBAH == 0x7800)
        #expect(AVFRegister.arqBAL == 0x6C00 && AVFRegister.arqBAH == 0x6000)
        #expect(AVFRegister.rstat == 0x8800 && AVFRegister.icr01 == 0x4800 && AVFRegister.dynCtl01 == 0x5C00)
    }

    @Test("GET_VF_RESOURCES reply: 36 bytes, one VSI at 20")
    func vfResource() {
        var r = VFResource()
        r.capFlags = 0x8081
        r.mac = [0x02, 0, 0, 0, 0, 0x01]
        let b = r.bytes
        #expect(b.count == 36)
        #expect(le16(b, 0) == 1)          // num_vsis
        #expect(le16(b, 2) == 1)          // num_queue_pairs
        #expect(le16(b, 4) == 5)          // max_vectors
        #expect(le16(b, 6) == 9728)       // max_mtu
        #expect(le32(b, 8) == 0x8081)     // vf_cap_flags
        #expect(le32(b, 12) == 52 && le32(b, 16) == 64)
        #expect(le16(b, 20) == 1)         // vsi_id
        #expect(le16(b, 22) == 1)         // vsi num_queue_pairs
        #expect(le32(b, 24) == 6)         // VIRTCHNL_VSI_SRIOV
        #expect(Array(b[30..<36]) == [0x02, 0, 0, 0, 0, 0x01])
        #expect(VFResource(b) == r)
    }

    @Test("VLAN V2 caps: 40 bytes, max_filters at 12, ice's inner C-tag offloads")
    func vlanCaps() {
        let b = VlanCaps(maxFilters: 8).bytes
        #expect(b.count == 40)
        #expect(le32(b, 0) == 0)                  // filtering outer
        #expect(le32(b, 4) == 0x1)                // filtering inner: 8100
        #expect(le32(b, 8) == 0x1)                // ethertype_init
        #expect(le16(b, 12) == 8)                 // max_filters
        #expect(le32(b, 16) == 0)                 // stripping outer
        #expect(le32(b, 20) == 0x8000_0101)       // stripping inner: TOGGLE|L2TAG1|8100
        #expect(le32(b, 24) == 0)
        #expect(le32(b, 28) == 0x8000_0101)       // insertion inner
        #expect(le32(b, 32) == 0x1)
        #expect(b[36] == 0)
        #expect(VlanCaps(b) == VlanCaps(maxFilters: 8))
    }

    @Test("PF events: LINK_CHANGE {1, 25000, up, INFO} and RESET_IMPENDING {2, CERTAIN_DOOM}")
    func events() {
        let link = PFEvent.linkChange(speed: 25000, up: true, advanced: true).bytes
        #expect(link.count == 16)
        #expect(le32(link, 0) == 1 && le32(link, 4) == 25000 && link[8] == 1 && le32(link, 12) == 0)
        let reset = PFEvent.resetImpending.bytes
        #expect(le32(reset, 0) == 2 && le32(reset, 12) == 255)
    }

    @Test("V2 filter list: 8 + 32n, element i at 8 + 32i, inner tci/tpid at +0/+4, outer at +8/+12")
    func filterListV2() {
        let list = VlanFilterListV2(vportID: 1, filters: [
            .init(inner: VCVlan(tci: 100, tpid: 0x8100)),
            .init(inner: VCVlan(tci: 0x2065, tciMask: 0x0FFF, tpid: 0x88A8), outer: VCVlan(tci: 7, tpid: 0x8100)),
        ])
        let b = list.bytes
        #expect(b.count == 8 + 64)
        #expect(le16(b, 0) == 1 && le16(b, 2) == 2)
        #expect(le16(b, 8) == 100 && le16(b, 12) == 0x8100)
        #expect(le16(b, 40) == 0x2065 && le16(b, 42) == 0x0FFF && le16(b, 44) == 0x88A8)
        #expect(le16(b, 48) == 7 && le16(b, 52) == 0x8100)
        #expect(VlanFilterListV2(b) == list)
        #expect(VlanFilterListV2(b).filters[1].inner.vid == 0x065)
    }

    @Test("request sizes iavf sends (§4.2, §4.4) pass validation; one byte more or less does not")
    func validatorSizes() {
        let cases: [(UInt32, [UInt8])] = [
            (VC.version, VersionInfo(major: 1, minor: 1).bytes),
            (VC.getVFResources, [0xF9, 0x80, 0xBD, 0x1A]),
            (VC.configIRQMap, IRQMapInfo(entries: [.init(vectorID: 1, rxqMap: 1, txqMap: 1), .init(vectorID: 0, rxqMap: 0, txqMap: 0)]).bytes),
            (VC.configVSIQueues, VSIQueueConfig(pairs: [.init(queue: 0)]).bytes),
            (VC.enableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes),
            (VC.addEthAddr, EtherAddrList(entries: [.init(addr: [2, 0, 0, 0, 0, 1], type: 1), .init(addr: [1, 0, 0x5e, 0, 0, 1], type: 2)]).bytes),
            (VC.addVlan, VlanFilterListV1(vids: [100]).bytes),
            (VC.addVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes),
            (VC.enableVlanStrippingV2, VlanSetting().bytes),
            (VC.getOffloadVlanV2Caps, []),
        ]
        let expectedSizes = [8, 4, 38, 136, 12, 28, 8, 40, 16, 0]
        for ((op, msg), size) in zip(cases, expectedSizes) {
            #expect(msg.count == size, "\(VC.name(op))")
            #expect(VirtchnlValidator.validate(op: op, message: msg, vfMinor: 1) == .valid, "\(VC.name(op))")
            #expect(VirtchnlValidator.validate(op: op, message: msg + [0], vfMinor: 1) != .valid, "\(VC.name(op)) + 1")
            if !msg.isEmpty {
                #expect(VirtchnlValidator.validate(op: op, message: Array(msg.dropLast()), vfMinor: 1) != .valid, "\(VC.name(op)) - 1")
            }
        }
        // a 1.0 VF sends GET_VF_RESOURCES without caps
        #expect(VirtchnlValidator.validate(op: VC.getVFResources, message: [], vfMinor: 0) == .valid)
        // a zero count is malformed even when the length matches the header
        var zero = VlanFilterListV2(innerVIDs: [100]).bytes
        zero[2] = 0
        #expect(VirtchnlValidator.validate(op: VC.addVlanV2, message: Array(zero.prefix(8)), vfMinor: 1) != .valid)
        #expect(VirtchnlValidator.validate(op: 999, message: [], vfMinor: 1) == .unknownOpcode)
    }

    @Test("fault specs parse; bad ones are refused with a reason")
    func faultParsing() throws {
        #expect(try PFFault.parse("reject ADD_VLAN_V2").0 == .reject(op: 52, status: -5))
        #expect(try PFFault.parse("reject DEL_VLAN_V2 -64 vf=1") == (.reject(op: 53, status: -64), 1))
        #expect(try PFFault.parse("drop 52").0 == .drop(op: 52))
        #expect(try PFFault.parse("delay ADD_VLAN 300").0 == .delay(op: 12, ms: 300))
        #expect(try PFFault.parse("link down").0 == .link(up: false))
        #expect(try PFFault.parse("reset vf=0") == (.reset, 0))
        #expect(try PFFault.parse("clear vf=1") == (.clear, 1))
        #expect(throws: TransportError.self) { try PFFault.parse("reject NO_SUCH_OP") }
        #expect(throws: TransportError.self) { try PFFault.parse("explode") }
        #expect(throws: TransportError.self) { try PFFault.parse("link sideways") }
    }
}
