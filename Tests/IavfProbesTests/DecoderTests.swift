import CIavfEvents
import CIavfShim
import Testing
@testable import IavfProbes

/// The decoder on bytes laid out by the same C header the BPF programs use.
@Suite("record decoder")
struct DecoderTests {
    func header(kind: ProbeEventKind, phase: ProbePhase, size: Int, cpu: UInt16 = 1, drops: UInt64 = 0) -> iavf_ev_hdr {
        var h = iavf_ev_hdr()
        h.kind = kind.rawValue
        h.phase = phase.rawValue
        h.size = UInt16(size)
        h.cpu = cpu
        h.pid = 42
        h.tid = 43
        h.ts_ns = 123_456_789
        h.cpu_drops = drops
        h.dev_key = 0xffff_8880_1234_0000
        h.ifindex = 7
        setCString(&h.ifname, "enp1s0v0")
        setCString(&h.bus, "0000:41:01.0")
        return h
    }

    func decode(_ b: [UInt8], names: KernelNames = .selftest) throws -> ProbeEvent {
        try b.withUnsafeBytes { try ProbeEventDecoder(names: names).decode($0) }
    }

    @Test("add_vid exit: vid, tpid, ret and the device come through")
    func addVidExit() throws {
        var r = iavf_ev_vid()
        r.hdr = header(kind: .addVid, phase: .exit, size: MemoryLayout<iavf_ev_vid>.size)
        r.hdr.flags = UInt8(IAVF_EVF_HAS_RET)
        r.hdr.ret = -5
        r.vid = 107
        r.tpid = 0x8100
        let e = try decode(bytes(of: r))
        #expect(e.kind == .addVid && e.phase == .exit && e.ret == -5)
        guard case .vid(let key) = e.payload else { Issue.record("payload \(e.payload)"); return }
        #expect(key == VlanKey(vid: 107, tpid: 0x8100))
        #expect(e.device.traceName == "0000:41:01.0" && e.device.ifname == "enp1s0v0" && e.device.ifindex == 7)
        #expect(e.timestampNs == 123_456_789 && e.pid == 42 && e.tid == 43)
        #expect(e.kind.traceName == "add_vid" && e.phase.traceName == "exit")
    }

    @Test("an enter record has no ret")
    func enterHasNoRet() throws {
        var r = iavf_ev_vid()
        r.hdr = header(kind: .killVid, phase: .enter, size: MemoryLayout<iavf_ev_vid>.size)
        r.vid = 5
        let e = try decode(bytes(of: r))
        #expect(e.ret == nil)
    }

    @Test("device falls back to the netdev name without a PCI address")
    func deviceNameFallback() throws {
        var h = header(kind: .down, phase: .exit, size: MemoryLayout<iavf_ev_hdr>.size)
        setCString(&h.bus, "")
        let e = try decode(bytes(of: h))
        #expect(e.device.traceName == "enp1s0v0")
    }

    @Test("the device cache compares names as C strings: bytes after the NUL do not matter, a new name does")
    func deviceCacheIgnoresBytesAfterNul() throws {
        let decoder = ProbeEventDecoder(names: .selftest)
        func run(_ h: iavf_ev_hdr) throws -> ProbeDevice {
            try bytes(of: h).withUnsafeBytes { try decoder.decode($0) }.device
        }
        var h = header(kind: .down, phase: .exit, size: MemoryLayout<iavf_ev_hdr>.size)
        let first = try run(h)
        // BPF writes names up to the NUL; the rest is whatever the ring held before.
        withUnsafeMutableBytes(of: &h.ifname) { $0[12] = 0x41; $0[15] = 0x7f }
        withUnsafeMutableBytes(of: &h.bus) { $0[14] = 0x33 }
        #expect(try run(h) == first)
        setCString(&h.ifname, "enp1s0v1")
        let renamed = try run(h)
        #expect(renamed.ifname == "enp1s0v1" && renamed.bus == "0000:41:01.0")
        h.ifindex = 8
        #expect(try run(h).ifindex == 8)
        h.dev_key &+= 1
        #expect(try run(h).key == h.dev_key)
        setCString(&h.bus, "")
        #expect(try run(h).traceName == "enp1s0v1")
    }

    @Test("V2 send: VIDs with their tpid; V1 send: tpid 33024")
    func sendDecoding() throws {
        var r = iavf_ev_send()
        r.hdr = header(kind: .send, phase: .enter, size: MemoryLayout<iavf_ev_send>.size)
        r.op = 52
        r.num_elements = 2
        r.nvids = 2
        r.msg_flags = UInt16(IAVF_SENDF_VLAN_V2)
        var b = bytes(of: r)
        let vidOff = MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.vid)!
        let tpidOff = MemoryLayout<iavf_ev_send>.offset(of: \iavf_ev_send.tpid)!
        for (i, (v, t)) in [(100, 0x8100), (200, 0x88a8)].enumerated() {
            b[vidOff + 2 * i] = UInt8(v & 0xff); b[vidOff + 2 * i + 1] = UInt8(v >> 8)
            b[tpidOff + 2 * i] = UInt8(t & 0xff); b[tpidOff + 2 * i + 1] = UInt8(t >> 8)
        }
        let e = try decode(b)
        guard case .send(let s) = e.payload else { Issue.record("payload"); return }
        #expect(s.opName == "ADD_VLAN_V2" && s.vlanVersion == 2)
        #expect(s.vids == [VlanKey(vid: 100, tpid: 0x8100), VlanKey(vid: 200, tpid: 0x88a8)])

        r.op = 13
        r.msg_flags = UInt16(IAVF_SENDF_VLAN_V1)
        r.nvids = 1
        var b1 = bytes(of: r)
        b1[vidOff] = 42; b1[vidOff + 1] = 0
        let e1 = try decode(b1)
        guard case .send(let s1) = e1.payload else { Issue.record("payload"); return }
        #expect(s1.opName == "DEL_VLAN" && s1.vids == [VlanKey(vid: 42, tpid: 33024)])
    }

    @Test("snapshot: filters in list order, state names from the kernel's names, count kept apart")
    func snapshot() throws {
        var s = iavf_ev_snapshot()
        s.hdr = header(kind: .snapshot, phase: .exit, size: MemoryLayout<iavf_ev_snapshot>.size)
        s.at_kind = ProbeEventKind.addVid.rawValue
        s.count = 3
        s.nfilters = 2
        s.vf_cap_flags = 1 << 15
        s.max_filters = 8
        withUnsafeMutableBytes(of: &s.filters) { raw in
            let f = raw.bindMemory(to: iavf_ev_filter.self)
            f[0] = iavf_ev_filter(vid: 100, tpid: 0x8100, state: 3)
            f[1] = iavf_ev_filter(vid: 101, tpid: 0x8100, state: 5)
        }
        // Unpatched numbering: 5 is INACTIVE there, REMOVING in the patched one.
        let unpatched = KernelNames(states: [3: "ACTIVE", 4: "DISABLE", 5: "INACTIVE", 6: "REMOVE"])
        let e = try decode(bytes(of: s), names: unpatched)
        guard case .snapshot(let snap) = e.payload else { Issue.record("payload"); return }
        #expect(snap.at == .addVid && snap.count == 3 && snap.vlanMode == .v2 && snap.maxFilters == 8)
        #expect(snap.filters.map(\.vid) == [100, 101])
        #expect(snap.filters.map(\.state) == ["ACTIVE", "INACTIVE"])
        let p = try decode(bytes(of: s), names: .selftest)
        guard case .snapshot(let snapP) = p.payload else { Issue.record("payload"); return }
        #expect(snapP.filters.map(\.state) == ["ACTIVE", "REMOVING"])
    }

    @Test("malformed records are rejected, not misread")
    func malformed() throws {
        let h = header(kind: .down, phase: .exit, size: MemoryLayout<iavf_ev_hdr>.size)
        #expect(throws: ProbeDecodeError.tooShort(size: 10)) { try decode(Array(bytes(of: h).prefix(10))) }
        #expect(throws: ProbeDecodeError.sizeMismatch(header: 80, record: 88)) { try decode(bytes(of: h) + [UInt8](repeating: 0, count: 8)) }
        var bad = h
        bad.kind = 99
        #expect(throws: ProbeDecodeError.unknownKind(99)) { try decode(bytes(of: bad)) }
        var short = header(kind: .snapshot, phase: .exit, size: MemoryLayout<iavf_ev_hdr>.size)
        short.size = UInt16(MemoryLayout<iavf_ev_hdr>.size)
        #expect(throws: ProbeDecodeError.tooShort(size: 80)) { try decode(bytes(of: short)) }
    }

    @Test("per-CPU drop counters become lost markers, and the remainder is reported at the end")
    func lossTracking() throws {
        var t = LossTracker()
        func ev(cpu: UInt16, drops: UInt64) throws -> ProbeEvent {
            try decode(bytes(of: header(kind: .down, phase: .exit, size: MemoryLayout<iavf_ev_hdr>.size, cpu: cpu, drops: drops)))
        }
        #expect(t.observe(try ev(cpu: 0, drops: 0)) == 0)
        #expect(t.observe(try ev(cpu: 0, drops: 3)) == 3)
        #expect(t.observe(try ev(cpu: 1, drops: 2)) == 2)
        #expect(t.observe(try ev(cpu: 0, drops: 3)) == 0)
        #expect(t.remainder(totalDrops: 9) == 4)
        #expect(t.remainder(totalDrops: 9) == 0)
    }

    @Test("the Swift view of every record struct has the size iavf_events.h asserts for both C compilers")
    func layout() {
        // The header's _Static_asserts check these numbers for clang -target bpf and the host;
        // here the same numbers are checked against the structs as Swift imports them.
        #expect(MemoryLayout<iavf_ev_hdr>.size == Int(IAVF_EV_HDR_SIZE))
        #expect(MemoryLayout<iavf_ev_vid>.size == Int(IAVF_EV_VID_SIZE))
        #expect(MemoryLayout<iavf_ev_send>.size == Int(IAVF_EV_SEND_SIZE))
        #expect(MemoryLayout<iavf_ev_reply>.size == Int(IAVF_EV_REPLY_SIZE))
        #expect(MemoryLayout<iavf_ev_filter>.size == Int(IAVF_EV_FILTER_SIZE))
        #expect(MemoryLayout<iavf_ev_snapshot>.size == Int(IAVF_EV_SNAPSHOT_SIZE))
        #expect(MemoryLayout<iavf_ev_bench>.size == Int(IAVF_EV_BENCH_SIZE))
        #expect(MemoryLayout<iavf_core_info>.size == Int(IAVF_CORE_INFO_SIZE))
        #expect(MemoryLayout<iavf_ev_hdr>.offset(of: \iavf_ev_hdr.dev_key) == Int(IAVF_EV_HDR_OFF_DEV_KEY))
        #expect(MemoryLayout<iavf_ev_hdr>.offset(of: \iavf_ev_hdr.ifindex) == Int(IAVF_EV_HDR_OFF_IFINDEX))
        #expect(MemoryLayout<iavf_ev_hdr>.offset(of: \iavf_ev_hdr.ifname) == Int(IAVF_EV_HDR_OFF_IFNAME))
        #expect(MemoryLayout<iavf_ev_hdr>.offset(of: \iavf_ev_hdr.bus) == Int(IAVF_EV_HDR_OFF_BUS))
    }
}
