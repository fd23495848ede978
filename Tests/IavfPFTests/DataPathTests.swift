import Foundation
import IavfModel
import IavfTrace
import Testing
@testable import IavfPF

/// Plays iavf's data path on a `MemoryTransport`: a 64-entry Tx ring (16-byte descriptors),
/// a 64-entry Rx ring (32-byte descriptors) with one buffer per slot posted up to
/// QRX_TAIL = 63, vector 1 for queue pair 0 with INTENA set.
final class FakeDataPath {
    let t: MemoryTransport
    let vf: Int
    let mbx: FakeDriver
    static let ringLen = 64
    let txRing: UInt64, rxRing: UInt64, txBufs: UInt64, rxBufs: UInt64
    var bufSize: Int
    var txNTU = 0
    var rxNTC = 0
    var mac: [UInt8] { [0x02, 0, 0, 0, 0, UInt8(vf + 1)] }

    init(_ t: MemoryTransport, vf: Int, bufSize: Int = 2048) {
        self.t = t
        self.vf = vf
        self.bufSize = bufSize
        mbx = FakeDriver(t, vf: vf)
        let base = 0x400_0000 + UInt64(vf) * 0x10_0000
        txRing = base; rxRing = base + 0x1000; txBufs = base + 0x2_0000; rxBufs = base + 0x4_0000
    }

    /// VERSION, GET_VF_RESOURCES, V2 caps, MAC, IRQ map, queues, stripping, enable.
    func bringUp(_ pf: PFEmulator, vlans: [UInt16] = [], stripping: Bool = true) {
        func send(_ op: UInt32, _ m: [UInt8]) { mbx.send(op, m); pf.step(); _ = mbx.receive() }
        send(VC.version, VersionInfo(major: 1, minor: 1).bytes)
        send(VC.getVFResources, [0xF9, 0x80, 0xBD, 0x1A])
        send(VC.getOffloadVlanV2Caps, [])
        send(VC.addEthAddr, EtherAddrList(entries: [.init(addr: mac, type: 1)]).bytes)
        send(VC.configIRQMap, IRQMapInfo(entries: [.init(vectorID: 0, rxqMap: 0, txqMap: 0), .init(vectorID: 1, rxqMap: 1, txqMap: 1)]).bytes)
        postRx()
        send(VC.configVSIQueues, VSIQueueConfig(pairs: [.init(queue: 0, ringLen: UInt16(Self.ringLen), bufSize: UInt32(bufSize),
                                                              txRing: txRing, rxRing: rxRing)]).bytes)
        if stripping { send(VC.enableVlanStrippingV2, VlanSetting().bytes) }
        t.write32(vf: vf, AVFQueue.dynCtlN1(vector: 1), AVFQueue.intena)
        send(VC.enableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes)
        if !vlans.isEmpty { send(VC.addVlanV2, VlanFilterListV2(innerVIDs: vlans).bytes) }
    }

    /// iavf_alloc_rx_buffers: every slot but one, QRX_TAIL = count - 1.
    func postRx() {
        for i in 0..<Self.ringLen { repost(i) }
        t.write32(vf: vf, AVFQueue.rxTail(0), UInt32(Self.ringLen - 1))
    }

    func repost(_ i: Int) {
        var w = ByteWriter(count: 32)
        w.u64(0, rxBufs + UInt64(i * 2048))
        try! t.dmaWrite(rxRing + UInt64(i * 32), w.bytes)
    }

    /// Puts one packet on the Tx ring (one descriptor per chunk) and writes QTX_TAIL.
    func transmit(_ frame: [UInt8], l2tag1: UInt16? = nil, chunks: Int = 1, bufferAddress: UInt64? = nil) {
        let size = (frame.count + chunks - 1) / chunks
        for c in 0..<chunks {
            let part = Array(frame[(c * size)..<min(frame.count, (c + 1) * size)])
            let buf = bufferAddress ?? txBufs + UInt64(txNTU * 2048)
            if bufferAddress == nil { try! t.dmaWrite(buf, part) }
            let last = c == chunks - 1
            try! t.dmaWrite(txRing + UInt64(txNTU * 16), AVFQueue.txData(buffer: buf, size: part.count, eop: last, l2tag1: last ? l2tag1 : nil))
            txNTU = (txNTU + 1) % Self.ringLen
        }
        t.write32(vf: vf, AVFQueue.txTail(0), UInt32(txNTU))
    }

    /// The Tx descriptor before `txNTU` has DESC_DONE.
    var lastTxDone: Bool {
        let i = (txNTU + Self.ringLen - 1) % Self.ringLen
        return ByteReader(try! t.dmaRead(txRing + UInt64(i * 16) + 8, count: 8)).u64(0) & 0xF == 0xF
    }

    /// iavf_clean_rx_irq: frames (buffers joined up to EOF) with their stripped tag.
    func receive() -> [(bytes: [UInt8], tag: UInt16?)] {
        var out: [(bytes: [UInt8], tag: UInt16?)] = []
        var frame: [UInt8] = []
        while true {
            let at = rxRing + UInt64(rxNTC * 32)
            let d = ByteReader(try! t.dmaRead(at, count: 32))
            let q1 = d.u64(8)
            guard q1 & AVFQueue.rxDD != 0 else { break }
            let len = Int((q1 >> 38) & 0x3FFF)
            frame += try! t.dmaRead(rxBufs + UInt64(rxNTC * 2048), count: len)
            let eof = q1 & AVFQueue.rxEOF != 0
            let tag: UInt16? = q1 & AVFQueue.rxL2TAG1P != 0 ? UInt16(truncatingIfNeeded: d.u64(0) >> 16) : nil
            repost(rxNTC)
            t.write32(vf: vf, AVFQueue.rxTail(0), UInt32(rxNTC))
            rxNTC = (rxNTC + 1) % Self.ringLen
            if eof { out.append((frame, tag)); frame = [] }
        }
        return out
    }
}

/// An Ethernet frame: dst, src, optional 802.1Q tag, IPv4 ethertype, payload.
func ethernet(to dst: [UInt8], from src: [UInt8], vlan: UInt16? = nil, payload: Int = 84) -> [UInt8] {
    var f = dst + src
    if let vlan { f += [0x81, 0x00, UInt8(vlan >> 8), UInt8(vlan & 0xFF)] }
    f += [0x08, 0x00]
    f += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    return f
}

@Suite("PF data path: rings, descriptors, the switch and its filters")
struct DataPathTests {
    let bcast: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]

    func setUp(vlans: [UInt16] = [], vlans2: [UInt16]? = nil, stripping: Bool = true,
               _ configure: (PFEmulator) -> Void = { _ in }) -> (MemoryTransport, PFEmulator, FakeDataPath, FakeDataPath) {
        let t = MemoryTransport(vfCount: 2)
        var o = PFEmulator.Options()
        o.resetMs = 0
        let pf = PFEmulator(transport: t, options: o)
        configure(pf)
        pf.start()
        let a = FakeDataPath(t, vf: 0), b = FakeDataPath(t, vf: 1)
        a.bringUp(pf, vlans: vlans, stripping: stripping)
        b.bringUp(pf, vlans: vlans2 ?? vlans, stripping: stripping)
        t.raised.removeAll()
        return (t, pf, a, b)
    }

    func counters(_ pf: PFEmulator, _ vf: Int) -> TraceEvent.PFCounters { pf.units[vf].counters }

    @Test("untagged unicast VF1 -> VF2: Tx DESC_DONE, Rx DD|EOF with the length, both queue vectors raised")
    func untagged() {
        let (t, pf, a, b) = setUp()
        let f = ethernet(to: b.mac, from: a.mac)
        a.transmit(f)
        pf.step()
        #expect(a.lastTxDone)
        let got = b.receive()
        #expect(got.count == 1 && got[0].bytes == f && got[0].tag == nil)
        #expect(t.raised.contains { $0 == (0, 1) } && t.raised.contains { $0 == (1, 1) })
        #expect(counters(pf, 0).tx == 1 && counters(pf, 1).rx == 1)
        // and back
        b.transmit(ethernet(to: a.mac, from: b.mac))
        pf.step()
        #expect(a.receive().count == 1)
    }

    @Test("a packet over several Tx descriptors and a frame over several Rx buffers arrive whole")
    func scatterGather() {
        let t = MemoryTransport(vfCount: 2)
        var o = PFEmulator.Options(); o.resetMs = 0
        let pf = PFEmulator(transport: t, options: o)
        pf.start()
        let a = FakeDataPath(t, vf: 0), b = FakeDataPath(t, vf: 1, bufSize: 128)
        a.bringUp(pf); b.bringUp(pf)
        let f = ethernet(to: b.mac, from: a.mac, payload: 300)
        a.transmit(f, chunks: 3)
        pf.step()
        let got = b.receive()
        #expect(got.count == 1 && got.first?.bytes == f)
        #expect(b.rxNTC == 3, "314 bytes in 128-byte buffers: three descriptors")
    }

    @Test("VLAN: programmed on both sides -> delivered, tag stripped into L2TAG1 (or left inline without stripping)")
    func vlanBothSides() {
        let (_, pf, a, b) = setUp(vlans: [100, 101])
        a.transmit(ethernet(to: b.mac, from: a.mac), l2tag1: 100)        // hardware insertion
        a.transmit(ethernet(to: b.mac, from: a.mac, vlan: 101))           // software tag
        pf.step()
        let got = b.receive()
        #expect(got.map(\.tag) == [100, 101])
        #expect(got.allSatisfy { $0.bytes == ethernet(to: b.mac, from: a.mac) })

        let (_, pf2, a2, b2) = setUp(vlans: [100], stripping: false)
        a2.transmit(ethernet(to: b2.mac, from: a2.mac), l2tag1: 100)
        pf2.step()
        let inline = b2.receive()
        #expect(inline.count == 1 && inline[0].tag == nil && inline[0].bytes == ethernet(to: b2.mac, from: a2.mac, vlan: 100))
    }

    @Test("VLAN: a VID missing on either side is dropped and counted; untagged still flows")
    func vlanOneSide() {
        let (_, pf, a, b) = setUp(vlans: [100, 102], vlans2: [101, 102])
        a.transmit(ethernet(to: b.mac, from: a.mac), l2tag1: 100)   // receiver lacks 100
        a.transmit(ethernet(to: b.mac, from: a.mac), l2tag1: 101)   // sender lacks 101
        a.transmit(ethernet(to: b.mac, from: a.mac), l2tag1: 102)   // both
        a.transmit(ethernet(to: b.mac, from: a.mac))                // untagged
        pf.step()
        #expect(b.receive().map(\.tag) == [102, nil])
        #expect(counters(pf, 0).vlan == 1 && counters(pf, 1).vlan == 1)
    }

    @Test("the switch uses the set the `pf` events report (one source of truth)")
    func oneSourceOfTruth() throws {
        let (_, pf, a, b) = setUp(vlans: [100])
        #expect(pf.state(vf: 1).sortedVlans == [VlanKey(vid: 100)])
        b.mbx.send(VC.delVlanV2, VlanFilterListV2(innerVIDs: [100]).bytes); pf.step(); _ = b.mbx.receive()
        #expect(pf.state(vf: 1).sortedVlans.isEmpty)
        a.transmit(ethernet(to: b.mac, from: a.mac), l2tag1: 100)
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 1).vlan == 1)
    }

    @Test("spoof check: a foreign source MAC is dropped while spoofchk is on (the default), passes when off")
    func spoof() throws {
        let (_, pf, a, b) = setUp()
        let forged = ethernet(to: b.mac, from: [0x02, 0xAA, 0, 0, 0, 9])
        a.transmit(forged)
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 0).spoof == 1)
        let (f, vf) = try PFFault.parse("spoofchk off vf=0")
        pf.add(f, vf: vf)
        a.transmit(forged)
        pf.step()
        #expect(b.receive().count == 1 && counters(pf, 0).spoof == 1)
    }

    @Test("port VLAN: untagged both ways between two VFs with the same PVID; a tagged frame from a PVID VF is dropped")
    func portVlan() {
        let (_, pf, a, b) = setUp(vlans: [100]) { pf in
            pf.state(vf: 0).policy.portVlan = 200; pf.state(vf: 1).policy.portVlan = 200
        }
        a.transmit(ethernet(to: b.mac, from: a.mac))
        a.transmit(ethernet(to: b.mac, from: a.mac), l2tag1: 100)
        pf.step()
        let got = b.receive()
        #expect(got.count == 1 && got[0].tag == nil && got[0].bytes == ethernet(to: b.mac, from: a.mac))
        #expect(counters(pf, 0).vlan == 1)
        // Receiver with a PVID, sender without: untagged frames do not reach it.
        pf.state(vf: 0).policy.portVlan = 0
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 1).vlan == 1)
    }

    @Test("nothing flows while the link is down or the receiver's queues are disabled")
    func linkAndQueues() {
        let (_, pf, a, b) = setUp()
        pf.add(.link(up: false), vf: 1)
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 1).link == 1)
        pf.add(.link(up: true), vf: 1)
        b.mbx.send(VC.disableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes); pf.step(); _ = b.mbx.receive()
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 1).link == 2)
        pf.add(.link(up: false), vf: 0)
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(counters(pf, 0).link == 1)
    }

    @Test("forwarding: broadcast floods, unicast to an unknown MAC goes nowhere")
    func forwarding() {
        let (_, pf, a, b) = setUp()
        a.transmit(ethernet(to: bcast, from: a.mac))
        a.transmit(ethernet(to: [0x02, 0, 0, 0, 0, 0x77], from: a.mac))
        pf.step()
        #expect(b.receive().count == 1 && counters(pf, 0).noRoute == 1)
    }

    @Test("no free Rx descriptor: the frame is dropped and counted, the ring untouched")
    func noBuffer() {
        let (t, pf, a, b) = setUp()
        t.write32(vf: 1, AVFQueue.rxTail(0), 0)     // head 0 == tail: nothing posted
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 1).noBuffer == 1)
    }

    @Test("DMA bounds: a Tx buffer outside RAM or inside a ring is dropped, counted, completed, never followed")
    func txBounds() throws {
        let (t, pf, a, b) = setUp()
        a.transmit(ethernet(to: b.mac, from: a.mac), bufferAddress: t.ramEnd + 0x1000)
        pf.step()
        #expect(a.lastTxDone, "the driver still gets its descriptor back")
        let rxRingBefore = try t.dmaRead(b.rxRing, count: 64)
        a.transmit(ethernet(to: b.mac, from: a.mac), bufferAddress: b.rxRing)
        a.transmit([0x01], bufferAddress: 0)
        pf.step()
        #expect(b.receive().isEmpty)
        #expect(counters(pf, 0).badDescriptor == 3 && counters(pf, 0).tx == 0)
        #expect(try t.dmaRead(b.rxRing, count: 64) == rxRingBefore)
        // a tail beyond the ring is counted once and ignored
        t.write32(vf: 0, AVFQueue.txTail(0), 999)
        pf.step(); pf.step()
        #expect(counters(pf, 0).badDescriptor == 4)
    }

    @Test("DMA bounds: an Rx descriptor naming a ring or non-RAM is not written through")
    func rxBounds() throws {
        let (t, pf, a, b) = setUp()
        var w = ByteWriter(count: 8)
        w.u64(0, a.txRing + 0x200)                                // points into VF1's Tx ring (unused slots)
        try t.dmaWrite(b.rxRing, w.bytes)
        let before = try t.dmaRead(a.txRing + 0x200, count: 128)
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().isEmpty && counters(pf, 1).badDescriptor == 1)
        #expect(try t.dmaRead(a.txRing + 0x200, count: 128) == before)
        w.u64(0, t.ramEnd)                                        // not RAM
        try t.dmaWrite(b.rxRing, w.bytes)
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(counters(pf, 1).badDescriptor == 2)
    }

    @Test("ENABLE_QUEUES restarts the rings at 0 and clears the stale Tx tail; a reset forgets them")
    func queueRestart() {
        let (t, pf, a, b) = setUp()
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().count == 1)
        a.mbx.send(VC.disableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes); pf.step(); _ = a.mbx.receive()
        a.mbx.send(VC.enableQueues, QueueSelect(rxQueues: 1, txQueues: 1).bytes); pf.step(); _ = a.mbx.receive()
        #expect(t.read32(vf: 0, AVFQueue.txTail(0)) == 0)
        a.txNTU = 0
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(b.receive().count == 1)
        pf.add(.reset, vf: 0)
        usleep(20_000); pf.step(); pf.step()
        #expect(pf.state(vf: 0).txRings.isEmpty && pf.state(vf: 0).rxRings.isEmpty)
    }

    @Test("a queue vector with INTENA clear is owed its interrupt until the driver sets INTENA; SWINT_TRIG fires and clears")
    func vectors() {
        let (t, pf, a, b) = setUp()
        t.write32(vf: 1, AVFQueue.dynCtlN1(vector: 1), 0)
        a.transmit(ethernet(to: b.mac, from: a.mac))
        pf.step()
        #expect(!t.raised.contains { $0 == (1, 1) })
        t.write32(vf: 1, AVFQueue.dynCtlN1(vector: 1), AVFQueue.intena)
        pf.step()
        #expect(t.raised.contains { $0 == (1, 1) })
        t.raised.removeAll()
        t.write32(vf: 1, AVFQueue.dynCtlN1(vector: 1), AVFQueue.intena | AVFQueue.swintTrig)
        pf.step()
        #expect(t.raised.contains { $0 == (1, 1) } && t.read32(vf: 1, AVFQueue.dynCtlN1(vector: 1)) == AVFQueue.intena)
    }
}

@Suite("PF controls: ip link set PF vf N ...")
struct PFControlTests {
    struct Parsed: Equatable { var f: PFFault; var vf: Int? }
    func parsed(_ line: String) throws -> Parsed { let (f, vf) = try PFFault.parse(line); return Parsed(f: f, vf: vf) }

    @Test("parse spoofchk, vlan, trust, stats; refuse malformed lines")
    func parse() throws {
        #expect(try parsed("spoofchk off vf=1") == Parsed(f: .spoofCheck(false), vf: 1))
        #expect(try parsed("spoofchk on") == Parsed(f: .spoofCheck(true), vf: nil))
        #expect(try parsed("vlan 200 vf=0") == Parsed(f: .portVlan(200), vf: 0))
        #expect(try parsed("vlan 0") == Parsed(f: .portVlan(0), vf: nil))
        #expect(try parsed("trust on vf=1") == Parsed(f: .trust(true), vf: 1))
        #expect(try parsed("stats") == Parsed(f: .stats, vf: nil))
        for bad in ["spoofchk", "spoofchk maybe", "vlan", "vlan 4095", "vlan x", "trust yes", "vlan 1 2"] {
            #expect(throws: TransportError.self, "\(bad)") { try PFFault.parse(bad) }
        }
    }

    @Test("each control writes a `pf` event with the port's settings; vlan and trust reset the VF as ice does")
    func events() throws {
        let path = NSTemporaryDirectory() + "pf-controls-\(getpid()).jsonl"
        defer { unlink(path) }
        let t = MemoryTransport(vfCount: 2)
        var o = PFEmulator.Options()
        o.impendingMs = 0
        o.trace = try TraceWriter(path: path, header: TraceHeader(generation: nil, vlanMode: .v2, maxFilters: 8, source: .emulated))
        let pf = PFEmulator(transport: t, options: o)
        pf.start()
        for line in ["spoofchk off vf=1", "vlan 200 vf=1", "trust on vf=1", "stats vf=1", "link down vf=1"] {
            let (f, vf) = try PFFault.parse(line)
            pf.add(f, vf: vf)
        }
        try o.trace?.close()
        let r = try TraceReader(path: path)
        var ports: [TraceEvent.PFPortState] = []
        while let e = try r.next() {
            if case .pf(_, let p?) = e.body, e.dev == "vf1" { ports.append(p) }
        }
        #expect(ports.count == 6, "start, spoofchk, vlan, trust, stats, link")
        #expect(ports.last == TraceEvent.PFPortState(pvid: 200, spoofchk: false, trusted: true, linkUp: false))
        #expect(pf.state(vf: 0).policy.spoofCheck && pf.state(vf: 0).policy.portVlan == 0)
        #expect(pf.units[1].resetStartAt != nil, "a PF-initiated reset follows vlan and trust")
    }
}
